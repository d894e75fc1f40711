/** The comparisons of a benchmark run and their text rendering. */
import type { CaseResult, LoadLevel } from "./measure.js"
import type { TargetName } from "./options.js"
import type { ProfileSummary } from "./profileSummary.js"
import type { WorkloadName } from "./workloads.js"

/** Minimum Fluxen throughput as a share of the minimal proxy's, per workload. */
export const throughputTargets: Readonly<Record<WorkloadName, number>> = { plain: 0.7, stream: 0.85 }

export interface LatencyDelta {
  /** Milliseconds added to the median and the 99th percentile. */
  readonly p50: number
  readonly p99: number
}

export interface Comparison {
  readonly workload: WorkloadName
  /** Fluxen requests/s over the minimal proxy's, with both loaded. */
  readonly throughputRatio: number | undefined
  readonly throughputTarget: number
  readonly meetsThroughputTarget: boolean | undefined
  /** Fluxen CPU time per request over the minimal proxy's. */
  readonly cpuPerRequestRatio: number | undefined
  /** Fluxen latency minus the direct mock's, under load and with one connection. */
  readonly fluxenAddedLatency: { readonly loaded?: LatencyDelta; readonly unloaded?: LatencyDelta }
  /** The same for the minimal proxy. */
  readonly minimalAddedLatency: { readonly loaded?: LatencyDelta; readonly unloaded?: LatencyDelta }
}

const find = (cases: ReadonlyArray<CaseResult>, target: TargetName, workload: WorkloadName, load: LoadLevel) =>
  cases.find((result) => result.target === target && result.workload === workload && result.load === load)

const latencyDelta = (proxied: CaseResult | undefined, direct: CaseResult | undefined): LatencyDelta | undefined =>
  proxied === undefined || direct === undefined
    ? undefined
    : { p50: proxied.latency.p50 - direct.latency.p50, p99: proxied.latency.p99 - direct.latency.p99 }

const ratio = (numerator: number | undefined, denominator: number | undefined) =>
  numerator === undefined || denominator === undefined || denominator === 0 ? undefined : numerator / denominator

const addedLatency = (cases: ReadonlyArray<CaseResult>, target: TargetName, workload: WorkloadName) => {
  const loaded = latencyDelta(find(cases, target, workload, "loaded"), find(cases, "direct", workload, "loaded"))
  const unloaded = latencyDelta(find(cases, target, workload, "unloaded"), find(cases, "direct", workload, "unloaded"))
  return { ...(loaded === undefined ? {} : { loaded }), ...(unloaded === undefined ? {} : { unloaded }) }
}

export const compare = (cases: ReadonlyArray<CaseResult>, workloads: ReadonlyArray<WorkloadName>): Array<Comparison> =>
  workloads.map((workload) => {
    const fluxen = find(cases, "fluxen", workload, "loaded")
    const minimal = find(cases, "minimal", workload, "loaded")
    const throughputRatio = ratio(fluxen?.requestsPerSecond, minimal?.requestsPerSecond)
    return {
      workload,
      throughputRatio,
      throughputTarget: throughputTargets[workload],
      meetsThroughputTarget: throughputRatio === undefined ? undefined : throughputRatio >= throughputTargets[workload],
      cpuPerRequestRatio: ratio(fluxen?.server.cpuMicrosPerRequest, minimal?.server.cpuMicrosPerRequest),
      fluxenAddedLatency: addedLatency(cases, "fluxen", workload),
      minimalAddedLatency: addedLatency(cases, "minimal", workload)
    }
  })

// ---------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------

/** Formats rows as a table. Columns listed in `leftAligned` (default: the first) are padded on the right, the others on the left. */
export const formatTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  leftAligned: ReadonlyArray<number> = [0]
): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, column) => (leftAligned.includes(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

const fixed = (value: number | undefined, digits: number) => (value === undefined ? "–" : value.toFixed(digits))
const signed = (value: number | undefined, digits: number) =>
  value === undefined ? "–" : `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`
const errorCount = (result: CaseResult) => result.errors.status + result.errors.incomplete + result.errors.transport

export const formatCases = (cases: ReadonlyArray<CaseResult>, load: LoadLevel, workload: WorkloadName): string | undefined => {
  const selected = cases.filter((result) => result.load === load && result.workload === workload)
  if (selected.length === 0) return undefined
  const connections = selected[0]!.connections
  const title = `${workload}, ${load === "loaded" ? `${connections} connections` : "1 connection"}`
  const rows = selected.map((result) => [
    result.target,
    fixed(result.requestsPerSecond, 0),
    fixed(result.latency.p50, 2),
    fixed(result.latency.p99, 2),
    String(errorCount(result)),
    fixed(result.server.cpuMicrosPerRequest, 0),
    fixed(result.server.cpuPercent, 0),
    fixed(result.clientCpuPercent, 0),
    fixed(result.server.rssBytes / 1_048_576, 0),
    fixed(result.server.allocation === undefined ? undefined : result.server.allocation.bytesPerRequest / 1024, 1),
    fixed(result.server.allocation?.gcPercent, 1),
    fixed(result.otherCpuPercent, 0)
  ])
  const table = formatTable(
    ["target", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/req", "server CPU %", "client CPU %", "RSS MiB", "heap KiB/req", "GC %", "other CPU %"],
    rows
  )
  return `${title}\n${table}`
}

export const formatComparisons = (comparisons: ReadonlyArray<Comparison>): string => {
  const rows = comparisons.map((comparison) => {
    let verdict = ""
    if (comparison.meetsThroughputTarget === true) verdict = " met"
    if (comparison.meetsThroughputTarget === false) verdict = " MISSED"
    const fluxen = comparison.fluxenAddedLatency
    return [
      comparison.workload,
      `${fixed(comparison.throughputRatio, 2)} (target ≥ ${comparison.throughputTarget.toFixed(2)})${verdict}`,
      fixed(comparison.cpuPerRequestRatio, 2),
      `${signed(fluxen.loaded?.p50, 2)} / ${signed(fluxen.loaded?.p99, 2)}`,
      `${signed(fluxen.unloaded?.p50, 3)} / ${signed(fluxen.unloaded?.p99, 3)}`
    ]
  })
  const table = formatTable(
    ["workload", "Fluxen/minimal req/s", "Fluxen/minimal CPU per req", "added p50/p99 ms, loaded", "added p50/p99 ms, 1 connection"],
    rows
  )
  return `Fluxen against the minimal proxy (added latency is against the direct mock)\n${table}`
}

export const formatProfile = (summary: ProfileSummary, workload: WorkloadName, top: number): string => {
  const functions = formatTable(
    ["self %", "function"],
    summary.functions.slice(0, top).map((entry) => [entry.percent.toFixed(1), entry.name]),
    [1]
  )
  const packages = formatTable(
    ["self %", "package"],
    summary.packages.slice(0, top).map((entry) => [entry.percent.toFixed(1), entry.name]),
    [1]
  )
  const idlePercent = (100 * summary.idleMs) / (summary.busyMs + summary.idleMs || 1)
  return `CPU profile of Fluxen, ${workload} workload (${summary.samples} samples, ${idlePercent.toFixed(1)} % idle; shares of busy time)\n${functions}\n\n${packages}`
}

/** A profiled run as the comparison reads it: the profile's summary and the case measured under it. */
export interface ProfiledCase {
  readonly summary: ProfileSummary
  readonly result: CaseResult
}

/** CPU time per request of each package in a profiled run: its share of the busy time over the requests completed. */
const microsPerRequestByPackage = (run: ProfiledCase): Map<string, number> => {
  const perRequest = new Map<string, number>()
  if (run.result.succeeded === 0) return perRequest
  for (const entry of run.summary.packages) perRequest.set(entry.name, (entry.milliseconds * 1000) / run.result.succeeded)
  return perRequest
}

/**
 * Compares the minimal proxy's profile with Fluxen's, package by package, in
 * microseconds of main-thread CPU per request, largest difference first.
 * Both runs were profiled, so both figures include the profiler's overhead.
 */
export const formatProfileComparison = (minimal: ProfiledCase, fluxen: ProfiledCase, workload: WorkloadName): string => {
  const minimalMicros = microsPerRequestByPackage(minimal)
  const fluxenMicros = microsPerRequestByPackage(fluxen)
  const names = [...new Set([...minimalMicros.keys(), ...fluxenMicros.keys()])]
  const difference = (name: string) => (fluxenMicros.get(name) ?? 0) - (minimalMicros.get(name) ?? 0)
  names.sort((a, b) => Math.abs(difference(b)) - Math.abs(difference(a)))
  const total = (micros: Map<string, number>) => [...micros.values()].reduce((sum, value) => sum + value, 0)
  const rows = names.map((name) => [name, (minimalMicros.get(name) ?? 0).toFixed(1), (fluxenMicros.get(name) ?? 0).toFixed(1), difference(name).toFixed(1)])
  rows.push(["all, busy main thread", total(minimalMicros).toFixed(1), total(fluxenMicros).toFixed(1), (total(fluxenMicros) - total(minimalMicros)).toFixed(1)])
  const table = formatTable(["package", "minimal µs/req", "Fluxen µs/req", "difference"], rows)
  return `Main-thread CPU per request by package, both under the profiler, ${workload} workload\n${table}`
}
