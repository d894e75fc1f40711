/** The comparisons of a cache benchmark run and their text rendering. */
import { formatTable } from "../report.js"
import type { ProfileSummary } from "../profileSummary.js"
import type { CacheCaseResult } from "./cases.js"
import type { EmbedderTimingResult, GrowthTimingResult, IndexTimingResult } from "./childResults.js"

/** Minimum hit throughput as a multiple of the pass-through throughput. */
export const hitThroughputTarget = 2
/** Maximum pass-through p99 under embedding load as a multiple of the p99 without it. */
export const interferenceP99Target = 1.5

export interface ThroughputComparison {
  readonly workload: "plain" | "stream"
  /** Hit requests/s over pass-through requests/s. */
  readonly throughputRatio: number | undefined
  readonly meetsTarget: boolean | undefined
  /** Fluxen CPU time per hit over CPU time per pass-through request. */
  readonly cpuPerRequestRatio: number | undefined
}

/** The Fluxen setups of the interference cases: the semantic cache with either embedder, and the control without it. */
export type InterferenceSetup = "onnx" | "lexical" | "no semantic cache"

export const interferenceSetups: ReadonlyArray<InterferenceSetup> = ["onnx", "lexical", "no semantic cache"]

export interface InterferenceComparison {
  readonly setup: InterferenceSetup
  /** The mean of the p99s of the pass-through cases before and after the loaded one, so that a drift of the machine cancels out. */
  readonly aloneP99Ms: number | undefined
  readonly loadedP99Ms: number | undefined
  /** Pass-through p99 with the embedding load over the p99 without it. */
  readonly p99Ratio: number | undefined
  readonly meetsTarget: boolean | undefined
}

const ratio = (numerator: number | undefined, denominator: number | undefined) =>
  numerator === undefined || denominator === undefined || denominator === 0 ? undefined : numerator / denominator

export const compareThroughput = (cases: ReadonlyArray<CacheCaseResult>): Array<ThroughputComparison> =>
  (["plain", "stream"] as const).map((workload) => {
    const hit = cases.find((result) => result.name === `${workload} hit`)
    const passThrough = cases.find((result) => result.name === `${workload} pass-through`)
    const throughputRatio = ratio(hit?.requestsPerSecond, passThrough?.requestsPerSecond)
    return {
      workload,
      throughputRatio,
      meetsTarget: throughputRatio === undefined ? undefined : throughputRatio >= hitThroughputTarget,
      cpuPerRequestRatio: ratio(hit?.fluxen.cpuMicrosPerRequest, passThrough?.fluxen.cpuMicrosPerRequest)
    }
  })

export const compareInterference = (cases: ReadonlyArray<CacheCaseResult>): Array<InterferenceComparison> =>
  interferenceSetups.flatMap((setup) => {
    const alone = cases
      .filter((result) => result.name.startsWith(`${setup}: pass-through alone`))
      .map((result) => result.load.latency.p99)
    const loaded = cases.find((result) => result.name === `${setup}: pass-through with miss load`)
    if (alone.length === 0 && loaded === undefined) return []
    const aloneP99Ms = alone.length === 0 ? undefined : alone.reduce((sum, p99) => sum + p99, 0) / alone.length
    const p99Ratio = ratio(loaded?.load.latency.p99, aloneP99Ms)
    return [
      {
        setup,
        aloneP99Ms,
        loadedP99Ms: loaded?.load.latency.p99,
        p99Ratio,
        meetsTarget: p99Ratio === undefined ? undefined : p99Ratio <= interferenceP99Target
      }
    ]
  })

const fixed = (value: number | undefined, digits: number) => (value === undefined ? "–" : value.toFixed(digits))
const verdict = (meets: boolean | undefined): string => {
  if (meets === undefined) return ""
  return meets ? " met" : " MISSED"
}
const errorCount = (result: CacheCaseResult) => result.load.errors.status + result.load.errors.incomplete + result.load.errors.transport
const statuses = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .map(([status, count]) => `${status} ${count}`)
    .join(", ")

export const formatThroughput = (cases: ReadonlyArray<CacheCaseResult>, comparisons: ReadonlyArray<ThroughputComparison>): string => {
  const connections = cases[0]?.spec.connections ?? 0
  const table = formatTable(
    ["case", "runs", "req/s", "p50 ms", "p99 ms", "errors", "Fluxen CPU µs/req", "Fluxen CPU %", "client CPU %", "other CPU %", "x-fluxen-cache"],
    cases.map((result) => [
      result.name,
      String(result.attempts),
      fixed(result.requestsPerSecond, 0),
      fixed(result.load.latency.p50, 2),
      fixed(result.load.latency.p99, 2),
      String(errorCount(result)),
      fixed(result.fluxen.cpuMicrosPerRequest, 0),
      fixed(result.fluxen.cpuPercent, 0),
      fixed(result.clientCpuPercent, 0),
      fixed(result.otherCpuPercent, 0),
      statuses(result.load.cacheStatuses)
    ]),
    [0, 10]
  )
  const ratios = formatTable(
    ["workload", "hit/pass-through req/s", "hit/pass-through CPU per request"],
    comparisons.map((comparison) => [
      comparison.workload,
      `${fixed(comparison.throughputRatio, 2)} (target ≥ ${hitThroughputTarget.toFixed(1)})${verdict(comparison.meetsTarget)}`,
      fixed(comparison.cpuPerRequestRatio, 2)
    ])
  )
  return `Cache hits against pass-through (cache-control: no-store), ${connections} connections, memory store\n${table}\n\n${ratios}`
}

export const formatInterference = (
  cases: ReadonlyArray<CacheCaseResult>,
  comparisons: ReadonlyArray<InterferenceComparison>,
  embedderTiming: EmbedderTimingResult | undefined
): string => {
  const title =
    `Pass-through latency (cache-control: no-store, ${fixed(cases[0]?.spec.ratePerSecond, 0)} req/s at fixed intervals), ` +
    "alone and while misses with new user turns load the same Fluxen (the control has no semantic cache, so nothing is embedded)"
  const table = formatTable(
    ["case", "runs", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "misses/s", "miss p99 ms", "Fluxen CPU %", "other CPU %", "background x-fluxen-cache"],
    cases.map((result) => [
      result.name,
      String(result.attempts),
      fixed(result.requestsPerSecond, 0),
      fixed(result.load.latency.p50, 2),
      fixed(result.load.latency.p90, 2),
      fixed(result.load.latency.p99, 2),
      fixed(result.load.latency.max, 2),
      String(errorCount(result) + (result.background === undefined ? 0 : result.background.load.totalFailed)),
      fixed(result.background?.requestsPerSecond, 0),
      fixed(result.background?.load.latency.p99, 2),
      fixed(result.fluxen.cpuPercent, 0),
      fixed(result.otherCpuPercent, 0),
      result.background === undefined ? "" : statuses(result.background.load.cacheStatuses)
    ]),
    [0, 12]
  )
  const ratios = formatTable(
    ["setup", "p99 alone ms (mean of before and after)", "p99 with miss load ms", "ratio"],
    comparisons.map((comparison) => [
      comparison.setup,
      fixed(comparison.aloneP99Ms, 2),
      fixed(comparison.loadedP99Ms, 2),
      `${fixed(comparison.p99Ratio, 2)} (target ≤ ${interferenceP99Target.toFixed(1)})${verdict(comparison.meetsTarget)}`
    ])
  )
  const timing =
    embedderTiming === undefined
      ? ""
      : `\nOne embedding of a generated user turn (${embedderTiming.onnx.meanTokens.toFixed(1)} tokens), alone on the proxy CPU: ` +
        `onnx p50 ${embedderTiming.onnx.latency.p50.toFixed(2)} ms, p99 ${embedderTiming.onnx.latency.p99.toFixed(2)} ms on a worker thread; ` +
        `lexical p50 ${(embedderTiming.lexical.latency.p50 * 1000).toFixed(0)} µs on the event loop.`
  return `${title}\n${table}\n\n${ratios}${timing}`
}

export const formatIndex = (results: ReadonlyArray<IndexTimingResult>): string => {
  const rows = results.flatMap((result) =>
    result.queryTimings.map((timing, row) => {
      const pluginUses = result.entries <= result.exactSearchLimit ? "scan" : "graph"
      return [
        row === 0 ? result.entries.toLocaleString("en-US") : "",
        row === 0 ? String(result.efConstruction) : "",
        row === 0 ? (result.buildCpuMs / 1000).toFixed(1) : "",
        timing.kind,
        pluginUses,
        fixed(timing.graph.mean, 3),
        fixed(timing.graph.p99, 3),
        timing.recallAt1.toFixed(3),
        fixed(timing.scan.mean, 3),
        fixed(timing.scan.p99, 3)
      ]
    })
  )
  const first = results[0]
  const title =
    first === undefined
      ? "Semantic index lookups"
      : `Semantic index lookups, one partition of random unit vectors of ${first.dimensions} dimensions ` +
        `(m ${first.m}, efSearch ${first.efSearch}, top ${first.k}; the plugin scans up to ${first.exactSearchLimit.toLocaleString("en-US")} vectors)`
  const table = formatTable(
    ["vectors", "efConstruction", "build CPU s", "queries", "plugin uses", "graph mean ms", "graph p99 ms", "graph recall@1", "scan mean ms", "scan p99 ms"],
    rows,
    [0, 3, 4]
  )
  const pluginLookups = results.map((result) => {
    const timing = result.queryTimings.find((entry) => entry.kind === "near-duplicate")
    if (timing === undefined) return ""
    const scans = result.entries <= result.exactSearchLimit
    const lookup = scans ? timing.scan : timing.graph
    const recall = scans ? "1.000 (exact)" : timing.recallAt1.toFixed(3)
    return (
      `\nThe plugin's lookup of a near-duplicate at ${result.entries.toLocaleString("en-US")} vectors (${scans ? "scan" : "graph"}): ` +
      `mean ${lookup.mean.toFixed(2)} ms, p99 ${lookup.p99.toFixed(2)} ms, recall@1 ${recall}.`
    )
  })
  return `${title}\n${table}\n${pluginLookups.join("")}`
}

export interface ProfiledCase {
  readonly name: string
  /** Successful requests in the profiled window. */
  readonly requests: number
  readonly summary: ProfileSummary
}

/**
 * Formats the main thread's self time per request, by package, of profiled
 * cases side by side, in microseconds. It lists the `top` packages by their
 * largest time in any case.
 */
export const formatProfiles = (profiled: ReadonlyArray<ProfiledCase>, top: number): string => {
  const perRequest = (entry: ProfiledCase, milliseconds: number) => (entry.requests === 0 ? 0 : (milliseconds * 1000) / entry.requests)
  const names = [...new Set(profiled.flatMap((entry) => entry.summary.packages.map((item) => item.name)))]
  const microsOf = (entry: ProfiledCase, name: string) =>
    perRequest(entry, entry.summary.packages.find((item) => item.name === name)?.milliseconds ?? 0)
  const rows = names
    .map((name) => ({ name, values: profiled.map((entry) => microsOf(entry, name)) }))
    .sort((a, b) => Math.max(...b.values) - Math.max(...a.values))
    .slice(0, top)
    .map((row) => [row.name, ...row.values.map((value) => value.toFixed(0))])
  const total = ["main thread, busy", ...profiled.map((entry) => perRequest(entry, entry.summary.busyMs).toFixed(0))]
  const table = formatTable(["package", ...profiled.map((entry) => `${entry.name} µs/req`)], [...rows, total])
  return `Fluxen main thread under node --cpu-prof: self time per request by package (worker threads not included)\n${table}`
}

export const formatGrowth = (growth: GrowthTimingResult): string => {
  const table = formatTable(
    ["vectors in the partition", "search ms per miss", "insertion ms per miss"],
    growth.windows.map((window) => [
      `${window.fromEntries.toLocaleString("en-US")}–${window.toEntries.toLocaleString("en-US")}`,
      window.searchMeanMs.toFixed(3),
      window.addMeanMs.toFixed(3)
    ])
  )
  return (
    `Indexing misses on the event loop: one partition of a VectorIndex with the plugin's defaults, ` +
    `filled with random unit vectors of ${growth.dimensions} dimensions, one search and one insertion per miss (means)\n${table}`
  )
}
