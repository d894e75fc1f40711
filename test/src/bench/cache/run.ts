/**
 * The cache benchmark, `node test/dist/bench/cache/run.js`: measures the
 * `@fluxen/cache` plugin inside Fluxen against the main benchmark's mock
 * upstream, and the plugin's semantic index in a child process, and writes
 * the figures to stdout and bench-results/. Every server, load generator and
 * timing process is a child process pinned with taskset, stopped by pid when
 * the run ends, fails or is interrupted. Run with --help for the options.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { quietBelowPercent } from "../measure.js"
import { clockTicksPerSecond, killRemainingChildren, pinThisProcess, stopRemainingChildren } from "../processes.js"
import { startMockUpstream } from "../targets.js"
import { runIndex, type IndexRun } from "./indexPart.js"
import { runInterference, type InterferenceRun } from "./interferencePart.js"
import { parseOptions, usage, type CacheBenchOptions } from "./options.js"
import { formatGrowth, formatIndex, formatInterference, formatProfiles, formatThroughput } from "./report.js"
import {
  backgroundMarginMs,
  choosePinning,
  describeMachine,
  describeSource,
  errorTotal,
  paths,
  streamWrites,
  type RunContext
} from "./runContext.js"
import { runProfiles, runThroughput, type ProfileRun, type ThroughputRun } from "./throughputPart.js"

/** Returns an upper bound on the run's length, after which the watchdog kills every child process. */
const timeBudgetMs = (options: CacheBenchOptions): number => {
  const caseMs = options.quietWaitMs + options.warmupMs + options.durationMs + 20_000
  const runsPerCase = options.retries + 1
  const throughput = options.parts.includes("throughput") ? 5 * runsPerCase * caseMs + 60_000 : 0
  const profile = options.profile ? 4 * caseMs + 60_000 : 0
  const interferenceCaseMs = caseMs + options.warmupMs + backgroundMarginMs
  const interference = options.parts.includes("interference") ? 9 * runsPerCase * interferenceCaseMs + 180_000 : 0
  const index = options.parts.includes("index") ? options.indexTimeLimitMs + 10_000 : 0
  return throughput + profile + interference + index + 30_000
}

const main = async (options: CacheBenchOptions): Promise<number> => {
  const startedAt = new Date()
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-")
  const resultsDirectory = Path.join(paths.repositoryRoot, "bench-results")
  const machine = describeMachine()
  const source = describeSource()
  const pinning = choosePinning(options)
  if (pinning.clientCpus !== undefined && !pinThisProcess(pinning.clientCpus)) {
    console.log(`Pinning the runner to CPU ${pinning.clientCpus} failed, so it runs unpinned.`)
  }
  for (const built of ["plugins/analyzer/dist/index.js", "plugins/cache/dist/index.js", "runtime/dist/bin/fluxen.js"]) {
    if (!existsSync(Path.join(paths.repositoryRoot, built))) throw new Error(`${built} is missing. Build the workspace with \`npx tsc -b\` first.`)
  }

  console.log(`Fluxen cache benchmark, ${startedAt.toISOString()}`)
  console.log(`Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, Node ${machine.node}, ${machine.kernel}`)
  console.log(`Pinning: ${pinning.description}`)
  if (source !== undefined) {
    console.log(`Source: commit ${source.commit.slice(0, 12)}${source.uncommittedChanges ? " with uncommitted changes" : ""}`)
  }
  if (options.parts.includes("throughput") || options.parts.includes("interference")) {
    console.log(
      `HTTP cases: ${options.warmupMs / 1000} s warm-up, ${options.durationMs / 1000} s measured. ` +
        "Fluxen runs the analyzer and the cache plugin with its memory store, usage in SQLite, logging at info." +
        (options.fluxenNodeFlags.length > 0 ? ` Fluxen's Node options: ${options.fluxenNodeFlags.join(" ")}.` : "")
    )
  }

  const run: RunContext = {
    options,
    pinning,
    mock: await startMockUpstream(paths, pinning.clientCpus, streamWrites),
    ticksPerSecond: clockTicksPerSecond()
  }
  const modelDirectory = mkdtempSync(Path.join(Os.tmpdir(), "fluxen-cache-bench-model-"))
  let throughput: ThroughputRun | undefined
  let profile: ProfileRun | undefined
  let interference: InterferenceRun | undefined
  let index: IndexRun | undefined
  try {
    if (options.parts.includes("throughput")) {
      console.log("Measuring cache hits against pass-through…")
      throughput = await runThroughput(run)
    }
    if (options.profile) {
      console.log("Profiling Fluxen on pass-through requests and hits…")
      profile = await runProfiles(run, resultsDirectory, stamp)
    }
    if (options.parts.includes("interference")) {
      console.log("Measuring pass-through latency under embedding load…")
      interference = await runInterference(run, modelDirectory)
    }
  } finally {
    await run.mock.child.stop("SIGTERM", 5_000)
    rmSync(modelDirectory, { recursive: true, force: true })
  }
  if (options.parts.includes("index")) {
    console.log(`Timing semantic index lookups at ${options.indexSizes.join(", ")} vectors…`)
    index = await runIndex(run)
  }

  console.log("")
  if (throughput !== undefined) console.log(`${formatThroughput(throughput.cases, throughput.comparisons)}\n`)
  if (profile !== undefined) {
    console.log(`${formatProfiles(profile.profiles, 14)}`)
    console.log(`Profiles: ${profile.profiles.map((entry) => entry.file).join(", ")}\n`)
  }
  if (interference !== undefined) {
    console.log(`${formatInterference(interference.cases, interference.comparisons, interference.embedderTiming)}\n`)
    if (interference.embeddingWarnings.length > 0) {
      console.log(`Fluxen logged failed or timed-out embeddings with: ${interference.embeddingWarnings.join(", ")}.\n`)
    }
  }
  if (index?.growth !== undefined) console.log(`${formatGrowth(index.growth)}\n`)
  if (index !== undefined && index.results.length > 0) console.log(`${formatIndex(index.results)}\n`)

  mkdirSync(resultsDirectory, { recursive: true })
  const resultsFile = Path.join(resultsDirectory, `cache-bench-${stamp}.json`)
  const report = {
    startedAt: startedAt.toISOString(),
    machine,
    source: source ?? null,
    pinning,
    options,
    units: {
      latency: "milliseconds",
      cpuMicrosPerRequest: "microseconds of Fluxen user + system CPU time, all threads, per successful foreground request",
      cpuPercent: "percent of one core",
      indexLookup: "milliseconds per lookup"
    },
    throughput: throughput ?? null,
    profile: profile ?? null,
    interference: interference ?? null,
    index: index ?? null
  }
  writeFileSync(resultsFile, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`Results: ${Path.relative(paths.repositoryRoot, resultsFile)}`)

  const allCases = [...(throughput?.cases ?? []), ...(profile?.cases ?? []), ...(interference?.cases ?? [])]
  const disturbed = allCases.filter((result) => result.otherCpuPercent + result.stealPercent >= quietBelowPercent)
  if (disturbed.length > 0) {
    console.log(
      `Other processes used ${quietBelowPercent} % of a core or more during ${disturbed.length} of ${allCases.length} cases ` +
        `(${disturbed.map((result) => result.name).join("; ")}); rerun on an idle machine before comparing figures.`
    )
  }
  const failed = allCases.filter((result) => errorTotal(result) > 0)
  if (failed.length > 0) {
    console.log(`Failed requests in: ${failed.map((result) => result.name).join(", ")}`)
    return 1
  }
  return index !== undefined && index.missingSizes.length > 0 ? 1 : 0
}

let options: CacheBenchOptions | "help"
try {
  options = parseOptions(process.argv.slice(2))
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`)
  process.exit(2)
}
if (options === "help") {
  console.log(usage)
  process.exit(0)
}

process.on("exit", killRemainingChildren)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`Received ${signal}, so the benchmark stops and kills its child processes.`)
    killRemainingChildren()
    process.exit(signal === "SIGINT" ? 130 : 143)
  })
}
const budgetMs = timeBudgetMs(options)
setTimeout(() => {
  console.error(`The cache benchmark timed out after ${Math.round(budgetMs / 1000)} s, so it kills its child processes.`)
  killRemainingChildren()
  process.exit(1)
}, budgetMs).unref()

try {
  process.exitCode = await main(options)
} catch (error) {
  console.error(`The cache benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  await stopRemainingChildren()
  process.exitCode = 1
}
