/**
 * `npm run bench`: measures the mock upstream directly, a minimal Node proxy
 * and Fluxen against the same mock, for a plain and a streamed chat
 * completion, and writes the figures to stdout and bench-results/. Every
 * server and load generator is a child process, stopped by pid when the run
 * ends, fails or is interrupted. Run with --help for the options.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { spawnSync } from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import {
  quietBelowPercent,
  runCase,
  waitForQuietMachine,
  type CaseContext,
  type CaseResult,
  type CaseSpec,
  type LoadLevel
} from "./measure.js"
import { parseOptions, usage, type BenchOptions, type TargetName } from "./options.js"
import {
  allowedCpus,
  clockTicksPerSecond,
  killRemainingChildren,
  pinThisProcess,
  readMemory,
  stopRemainingChildren,
  tasksetWorks
} from "./processes.js"
import { summarizeProfile, type CpuProfile, type ProfileSummary } from "./profileSummary.js"
import { compare, formatCases, formatComparisons, formatProfile, formatProfileComparison } from "./report.js"
import {
  startFluxen,
  startMinimalProxy,
  startMockUpstream,
  stopFluxen,
  type Paths,
  type Server,
  type UsageCounts
} from "./targets.js"

const paths: Paths = {
  repositoryRoot: fileURLToPath(new URL("../../../", import.meta.url)),
  benchDirectory: fileURLToPath(new URL("./", import.meta.url))
}

interface Pinning {
  readonly proxyCpus: string | undefined
  readonly clientCpus: string | undefined
  readonly description: string
}

const choosePinning = (options: BenchOptions): Pinning => {
  if (options.proxyCpus !== undefined && options.clientCpus !== undefined) {
    if (!tasksetWorks(options.proxyCpus) || !tasksetWorks(options.clientCpus)) {
      throw new Error(`taskset failed with --proxy-cpus ${options.proxyCpus} or --client-cpus ${options.clientCpus}. Check that taskset is installed and the CPUs exist.`)
    }
    return {
      proxyCpus: options.proxyCpus,
      clientCpus: options.clientCpus,
      description: `the proxy on CPU ${options.proxyCpus}, and the load generator, mock and runner on CPU ${options.clientCpus}`
    }
  }
  const cpus = allowedCpus()
  if (cpus.length < 2) {
    return { proxyCpus: undefined, clientCpus: undefined, description: "unpinned: only one CPU is available" }
  }
  const proxyCpus = String(cpus[0])
  const clientCpus = cpus.slice(1).join(",")
  if (!tasksetWorks(proxyCpus)) {
    return { proxyCpus: undefined, clientCpus: undefined, description: "unpinned: taskset is missing or failed" }
  }
  return {
    proxyCpus,
    clientCpus,
    description: `the proxy on CPU ${proxyCpus}, and the load generator, mock and runner on CPU ${clientCpus}`
  }
}

// Call before pinning the runner, which narrows what availableParallelism reports.
const describeMachine = () => {
  const cpuInfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : ""
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? Os.cpus()[0]?.model ?? "unknown",
    cpus: Os.availableParallelism(),
    node: process.version,
    kernel: `${Os.type()} ${Os.release()}`
  }
}

/** Returns the checked-out commit and whether the working tree differs from it, or undefined outside a Git checkout. */
const describeSource = (): { readonly commit: string; readonly uncommittedChanges: boolean } | undefined => {
  const git = (...args: Array<string>) => spawnSync("git", args, { cwd: paths.repositoryRoot, encoding: "utf8" })
  const head = git("rev-parse", "HEAD")
  if (head.status !== 0) return undefined
  const status = git("status", "--porcelain", "--untracked-files=no")
  return { commit: head.stdout.trim(), uncommittedChanges: status.stdout.trim() !== "" }
}

const caseSpecs = (options: BenchOptions, target: TargetName): Array<CaseSpec> => {
  const specs: Array<CaseSpec> = options.workloads.map((workload) => ({
    target,
    workload,
    load: "loaded" as LoadLevel,
    connections: options.connections,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs
  }))
  if (options.unloadedDurationMs > 0) {
    for (const workload of options.workloads) {
      specs.push({
        target,
        workload,
        load: "unloaded",
        connections: 1,
        warmupMs: options.unloadedWarmupMs,
        durationMs: options.unloadedDurationMs
      })
    }
  }
  return specs
}

/** Returns an upper bound on the run's length, after which the watchdog kills every child process. */
const timeBudgetMs = (options: BenchOptions): number => {
  const perTarget = caseSpecs(options, "direct").reduce(
    (sum, spec) => sum + options.repeat * (options.quietWaitMs + spec.warmupMs + spec.durationMs + 20_000),
    0
  )
  const profileRuns = (options.profile ? 1 : 0) + (options.profileMinimal ? 1 : 0)
  const profile = profileRuns * (options.quietWaitMs + options.warmupMs + options.durationMs + 60_000)
  return options.targets.length * (perTarget + 40_000) + profile + 30_000
}

const interference = (result: CaseResult) => result.otherCpuPercent + result.stealPercent

const leastDisturbed = (runs: ReadonlyArray<CaseResult>): CaseResult =>
  runs.reduce((best, result) => (interference(result) < interference(best) ? result : best))

const errorTotal = (result: CaseResult) => result.errors.status + result.errors.incomplete + result.errors.transport

const isDisturbed = (result: CaseResult) => interference(result) >= quietBelowPercent

const printCase = (result: CaseResult) => {
  const errors = errorTotal(result)
  console.log(
    `  ${result.target} ${result.workload} (${result.load}): ${result.requestsPerSecond.toFixed(0)} req/s, ` +
      `p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms, ${errors} errors`
  )
  for (const sample of result.errorSamples) console.log(`    error: ${sample}`)
  if (isDisturbed(result)) {
    console.log(
      `    warning: other processes used ${result.otherCpuPercent.toFixed(0)} % of a core and steal was ${result.stealPercent.toFixed(0)} % ` +
        "during this case, so its figures are disturbed"
    )
  }
}

/** Waits as --quiet-wait allows for the processes other than the runner and `childPids` to go quiet. */
const waitForQuiet = async (options: BenchOptions, childPids: ReadonlyArray<number>, ticksPerSecond: number) => {
  if (options.quietWaitMs === 0) return
  const wait = await waitForQuietMachine([process.pid, ...childPids], options.quietWaitMs, ticksPerSecond)
  if (!wait.quiet) {
    const seconds = (wait.waitedMs / 1000).toFixed(0)
    console.log(`  Other processes still used ${wait.otherCpuPercent.toFixed(0)} % of a core after ${seconds} s, so the next case may be disturbed.`)
  } else if (wait.waitedMs > 1_500) {
    console.log(`  Waited ${(wait.waitedMs / 1000).toFixed(0)} s for other processes to go quiet.`)
  }
}

interface TargetRun {
  readonly target: TargetName
  /** RSS of the server process once it listens, before any request. */
  readonly startupRssBytes: number
  readonly cases: Array<CaseResult>
  /** Runs of a repeated case that other processes disturbed more than the kept one. */
  readonly discarded: Array<CaseResult>
  readonly usage?: UsageCounts
}

const runTarget = async (
  target: TargetName,
  options: BenchOptions,
  pinning: Pinning,
  mock: Server,
  ticksPerSecond: number
): Promise<TargetRun> => {
  const cases: Array<CaseResult> = []
  const discarded: Array<CaseResult> = []
  let startupRssBytes = 0
  const run = async (server: Server, probed: boolean) => {
    startupRssBytes = readMemory(server.child.pid).rssBytes
    console.log(`  ${target} RSS at startup: ${(startupRssBytes / 1_048_576).toFixed(0)} MiB`)
    const context: CaseContext = { paths, clientCpus: pinning.clientCpus, clockTicksPerSecond: ticksPerSecond, mock, server, probed }
    for (const spec of caseSpecs(options, target)) {
      const runs: Array<CaseResult> = []
      for (let round = 0; round < options.repeat; round++) {
        await waitForQuiet(options, [mock.child.pid, server.child.pid], ticksPerSecond)
        const result = await runCase(spec, context)
        printCase(result)
        runs.push(result)
      }
      const kept = leastDisturbed(runs)
      cases.push(kept)
      discarded.push(...runs.filter((result) => result !== kept))
    }
  }

  if (target === "direct") {
    await run(mock, false)
    return { target, startupRssBytes, cases, discarded }
  }
  if (target === "minimal") {
    const server = await startMinimalProxy(paths, pinning.proxyCpus, mock.url)
    try {
      await run(server, true)
    } finally {
      await server.child.stop("SIGTERM", 5_000)
    }
    return { target, startupRssBytes, cases, discarded }
  }
  const server = await startFluxen(paths, { cpus: pinning.proxyCpus, upstreamUrl: mock.url, analyzer: options.analyzer })
  let usage: UsageCounts | undefined
  try {
    await run(server, true)
  } finally {
    usage = await stopFluxen(server)
  }
  return { target, startupRssBytes, cases, discarded, ...(usage === undefined ? {} : { usage }) }
}

interface ProfileRun {
  readonly file: string
  readonly result: CaseResult
  /** "measured window", or "whole process" when the window did not fall inside the profile. */
  readonly scope: "measured window" | "whole process"
  readonly summary: ProfileSummary
}

/** Runs Fluxen or the minimal proxy under `--cpu-prof` for one workload and summarizes the samples of the measured window. */
const runProfile = async (
  target: "fluxen" | "minimal",
  options: BenchOptions,
  pinning: Pinning,
  mock: Server,
  ticksPerSecond: number,
  resultsDirectory: string,
  stamp: string
): Promise<ProfileRun> => {
  const profileDirectory = Path.join(resultsDirectory, `profile-${stamp}`, target)
  mkdirSync(profileDirectory, { recursive: true })
  const nodeArguments = ["--cpu-prof", "--cpu-prof-dir", profileDirectory]
  const fluxen =
    target === "fluxen"
      ? await startFluxen(paths, { cpus: pinning.proxyCpus, upstreamUrl: mock.url, analyzer: options.analyzer, nodeArguments })
      : undefined
  const server = fluxen ?? (await startMinimalProxy(paths, pinning.proxyCpus, mock.url, nodeArguments))
  let result: CaseResult
  try {
    const spec: CaseSpec = {
      target,
      workload: options.profileWorkload,
      load: "loaded",
      connections: options.connections,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs
    }
    await waitForQuiet(options, [mock.child.pid, server.child.pid], ticksPerSecond)
    result = await runCase(spec, { paths, clientCpus: pinning.clientCpus, clockTicksPerSecond: ticksPerSecond, mock, server, probed: true })
    printCase(result)
  } finally {
    if (fluxen !== undefined) await stopFluxen(fluxen)
    else await server.child.stop("SIGTERM", 5_000)
  }

  // Node names the file CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile, where thread 0 is the main thread.
  const mainThread = new RegExp(`\\.${server.child.pid}\\.0\\.\\d+\\.cpuprofile$`)
  const file = readdirSync(profileDirectory).find((name) => mainThread.test(name))
  if (file === undefined) throw new Error(`The ${target} process wrote no CPU profile for its main thread in ${profileDirectory}.`)
  const path = Path.join(profileDirectory, file)
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile
  const inside = result.windowMicros.start >= profile.startTime && result.windowMicros.end <= profile.endTime
  const window = inside ? { startMicros: result.windowMicros.start, endMicros: result.windowMicros.end } : undefined
  const summary = summarizeProfile(profile, { top: 25, repositoryRoot: paths.repositoryRoot, ...(window === undefined ? {} : { window }) })
  return { file: Path.relative(paths.repositoryRoot, path), result, scope: inside ? "measured window" : "whole process", summary }
}

const main = async (options: BenchOptions): Promise<number> => {
  const startedAt = new Date()
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-")
  const resultsDirectory = Path.join(paths.repositoryRoot, "bench-results")
  const machine = describeMachine()
  const source = describeSource()
  const pinning = choosePinning(options)
  if (pinning.clientCpus !== undefined && !pinThisProcess(pinning.clientCpus)) {
    console.log(`Pinning the runner to CPU ${pinning.clientCpus} failed, so it runs unpinned.`)
  }
  const ticksPerSecond = clockTicksPerSecond()
  const analyzerBuilt = existsSync(Path.join(paths.repositoryRoot, "plugins/analyzer/dist/index.js"))
  if (options.analyzer && !analyzerBuilt) {
    throw new Error("The @fluxen/analyzer plugin is not built (plugins/analyzer/dist/index.js is missing). Run `npm run build`, or pass --no-analyzer.")
  }

  console.log(`Fluxen benchmark, ${startedAt.toISOString()}`)
  console.log(`Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, Node ${machine.node}, ${machine.kernel}`)
  console.log(`Pinning: ${pinning.description}`)
  if (source !== undefined) {
    console.log(`Source: commit ${source.commit.slice(0, 12)}${source.uncommittedChanges ? " with uncommitted changes" : ""}`)
  }
  console.log(`Fluxen: analyzer plugin ${options.analyzer ? "on" : "off"}, usage written to SQLite, logging at info`)
  console.log(
    `Loaded cases: ${options.connections} connections, ${options.warmupMs / 1000} s warm-up, ${options.durationMs / 1000} s measured.` +
      (options.unloadedDurationMs > 0
        ? ` Latency cases: 1 connection, ${options.unloadedWarmupMs / 1000} s warm-up, ${options.unloadedDurationMs / 1000} s measured.`
        : "")
  )

  const mock = await startMockUpstream(paths, pinning.clientCpus, options.streamWrites)
  const cases: Array<CaseResult> = []
  const discardedRuns: Array<CaseResult> = []
  const startupRssBytes: Partial<Record<TargetName, number>> = {}
  let usage: UsageCounts | undefined
  let profile: ProfileRun | undefined
  let minimalProfile: ProfileRun | undefined
  try {
    for (const target of options.targets) {
      console.log(`Measuring ${target}…`)
      const run = await runTarget(target, options, pinning, mock, ticksPerSecond)
      cases.push(...run.cases)
      discardedRuns.push(...run.discarded)
      startupRssBytes[target] = run.startupRssBytes
      if (run.usage !== undefined) usage = run.usage
    }
    if (options.profile) {
      console.log(`Profiling Fluxen on the ${options.profileWorkload} workload…`)
      profile = await runProfile("fluxen", options, pinning, mock, ticksPerSecond, resultsDirectory, stamp)
    }
    if (options.profileMinimal) {
      console.log(`Profiling the minimal proxy on the ${options.profileWorkload} workload…`)
      minimalProfile = await runProfile("minimal", options, pinning, mock, ticksPerSecond, resultsDirectory, stamp)
    }
  } finally {
    await mock.child.stop("SIGTERM", 5_000)
  }

  const comparisons = compare(cases, options.workloads)
  console.log("")
  for (const load of ["loaded", "unloaded"] as const) {
    for (const workload of options.workloads) {
      const table = formatCases(cases, load, workload)
      if (table !== undefined) console.log(`${table}\n`)
    }
  }
  if (options.targets.includes("fluxen") && options.targets.includes("minimal")) console.log(`${formatComparisons(comparisons)}\n`)

  const fluxenRequests = [...cases, ...discardedRuns]
    .filter((result) => result.target === "fluxen")
    .reduce((sum, result) => sum + result.totalSucceeded + result.totalFailed, 0)
  if (options.targets.includes("fluxen")) {
    console.log(
      usage === undefined
        ? "Fluxen did not log its usage counts at shutdown."
        : `Fluxen wrote ${usage.written} usage records for ${fluxenRequests} requests and dropped ${usage.dropped}.`
    )
  }
  if (profile !== undefined) {
    console.log(`\n${formatProfile(profile.summary, options.profileWorkload, 15)}`)
    console.log(`Profile: ${profile.file}, summarized over the ${profile.scope}.`)
    console.log(`Throughput under the profiler: ${profile.result.requestsPerSecond.toFixed(0)} req/s.`)
  }
  if (profile !== undefined && minimalProfile !== undefined) {
    if (profile.scope === "measured window" && minimalProfile.scope === "measured window") {
      console.log(`\n${formatProfileComparison(minimalProfile, profile, options.profileWorkload)}`)
    } else {
      // A whole-process profile includes start-up and warm-up, so its time per request is not comparable.
      console.log(`\nNo comparison by package: Fluxen's profile covers the ${profile.scope} and the minimal proxy's the ${minimalProfile.scope}, and only two measured windows compare.`)
    }
    console.log(`Profile of the minimal proxy: ${minimalProfile.file}, summarized over the ${minimalProfile.scope}.`)
  }

  mkdirSync(resultsDirectory, { recursive: true })
  const resultsFile = Path.join(resultsDirectory, `bench-${stamp}.json`)
  const report = {
    startedAt: startedAt.toISOString(),
    machine,
    source: source ?? null,
    pinning,
    options,
    fluxen: { analyzer: options.analyzer, usageDatabase: "sqlite", usage: usage ?? null, requests: fluxenRequests },
    units: {
      latency: "milliseconds",
      cpuMicrosPerRequest: "microseconds of user + system CPU time per successful request",
      cpuPercent: "percent of one core",
      bytesPerRequest: "estimated V8 heap bytes per successful request, Buffer contents excluded"
    },
    startupRssBytes,
    cases,
    discardedRuns,
    comparisons,
    profile: profile ?? null,
    minimalProfile: minimalProfile ?? null
  }
  writeFileSync(resultsFile, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\nResults: ${Path.relative(paths.repositoryRoot, resultsFile)}`)

  const disturbed = cases.filter(isDisturbed)
  if (disturbed.length > 0) {
    console.log(
      `Other processes used ${quietBelowPercent} % of a core or more during ${disturbed.length} of ${cases.length} cases; ` +
        "rerun on an idle machine before comparing figures."
    )
  }

  const failed = cases.filter((result) => errorTotal(result) > 0)
  if (failed.length > 0) {
    console.log(`Failed requests in: ${failed.map((result) => `${result.target} ${result.workload} (${result.load})`).join(", ")}`)
    return 1
  }
  if (usage !== undefined && usage.written + usage.dropped < fluxenRequests) {
    console.log(`Fluxen recorded usage for fewer requests (${usage.written + usage.dropped}) than it served (${fluxenRequests}).`)
    return 1
  }
  const missed = comparisons.filter((comparison) => comparison.meetsThroughputTarget === false)
  return options.check && missed.length > 0 ? 1 : 0
}

let options: BenchOptions | "help"
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
  console.error(`The benchmark timed out after ${Math.round(budgetMs / 1000)} s, so it kills its child processes.`)
  killRemainingChildren()
  process.exit(1)
}, budgetMs).unref()

try {
  process.exitCode = await main(options)
} catch (error) {
  console.error(`The benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  await stopRemainingChildren()
  process.exitCode = 1
}
