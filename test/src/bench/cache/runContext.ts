/**
 * What the parts of the cache benchmark share: the paths, the CPU pinning,
 * the machine description, the run's context, and helpers that print a
 * case, wait for a quiet machine, send one request and run a timing child.
 */
import { existsSync, readFileSync } from "node:fs"
import { spawnSync } from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { quietBelowPercent, waitForQuietMachine } from "../measure.js"
import { allowedCpus, Child, tasksetWorks } from "../processes.js"
import type { Paths, Server } from "../targets.js"
import { runCacheCase, type CaseContext, type CacheCaseResult, type LoadSpec } from "./cases.js"
import { resultMarker } from "./childResults.js"
import type { CacheBenchOptions } from "./options.js"

export const paths: Paths = {
  repositoryRoot: fileURLToPath(new URL("../../../../", import.meta.url)),
  benchDirectory: fileURLToPath(new URL("../", import.meta.url))
}
export const cacheDirectory = fileURLToPath(new URL("./", import.meta.url))

/** Network writes per streamed mock response, the main benchmark's default. */
export const streamWrites = 4
/** Connections of the paced load generators. They are enough that one slow response does not delay the next due request. */
export const pacedConnections = 16
/** Extra time the background load runs past the foreground window, so that it covers the whole window. */
export const backgroundMarginMs = 2_000

export interface Pinning {
  readonly proxyCpus: string | undefined
  readonly clientCpus: string | undefined
  readonly description: string
}

/** Chooses the CPUs as the main benchmark does: the first allowed CPU for Fluxen and the timing children, the others for the rest. */
export const choosePinning = (options: CacheBenchOptions): Pinning => {
  if (options.proxyCpus !== undefined && options.clientCpus !== undefined) {
    if (!tasksetWorks(options.proxyCpus) || !tasksetWorks(options.clientCpus)) {
      throw new Error(`taskset failed with --proxy-cpus ${options.proxyCpus} or --client-cpus ${options.clientCpus}. Check that taskset is installed and the CPUs exist.`)
    }
    return {
      proxyCpus: options.proxyCpus,
      clientCpus: options.clientCpus,
      description: `Fluxen and the timing children on CPU ${options.proxyCpus}, the load generators, mock and runner on CPU ${options.clientCpus}`
    }
  }
  const cpus = allowedCpus()
  if (cpus.length < 2) return { proxyCpus: undefined, clientCpus: undefined, description: "unpinned: only one CPU is available" }
  const proxyCpus = String(cpus[0])
  const clientCpus = cpus.slice(1).join(",")
  if (!tasksetWorks(proxyCpus)) return { proxyCpus: undefined, clientCpus: undefined, description: "unpinned: taskset is missing or failed" }
  return {
    proxyCpus,
    clientCpus,
    description: `Fluxen and the timing children on CPU ${proxyCpus}, the load generators, mock and runner on CPU ${clientCpus}`
  }
}

// Call before pinning the runner, which narrows what availableParallelism reports.
export const describeMachine = () => {
  const cpuInfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : ""
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? Os.cpus()[0]?.model ?? "unknown",
    cpus: Os.availableParallelism(),
    node: process.version,
    kernel: `${Os.type()} ${Os.release()}`
  }
}

/** Returns the checked-out commit and whether tracked files differ from it, or undefined outside a Git checkout. */
export const describeSource = (): { readonly commit: string; readonly uncommittedChanges: boolean } | undefined => {
  const git = (...args: Array<string>) => spawnSync("git", args, { cwd: paths.repositoryRoot, encoding: "utf8" })
  const head = git("rev-parse", "HEAD")
  if (head.status !== 0) return undefined
  const status = git("status", "--porcelain", "--untracked-files=no")
  return { commit: head.stdout.trim(), uncommittedChanges: status.stdout.trim() !== "" }
}

export const errorTotal = (result: CacheCaseResult) =>
  result.load.errors.status +
  result.load.errors.incomplete +
  result.load.errors.transport +
  (result.background === undefined ? 0 : result.background.load.totalFailed)

/** Whether other processes or the hypervisor took enough CPU time during the case to disturb its figures. */
export const isDisturbed = (result: CacheCaseResult) => result.otherCpuPercent + result.stealPercent >= quietBelowPercent

export const printCase = (result: CacheCaseResult) => {
  const background =
    result.background === undefined ? "" : `, with ${result.background.requestsPerSecond.toFixed(0)} misses/s in the background`
  console.log(
    `  ${result.name}: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.load.latency.p50.toFixed(2)} ms, ` +
      `p99 ${result.load.latency.p99.toFixed(2)} ms, ${errorTotal(result)} errors${background}`
  )
  for (const sample of [...result.load.errorSamples, ...(result.background?.load.errorSamples ?? [])]) console.log(`    error: ${sample}`)
  if (isDisturbed(result)) {
    console.log(
      `    warning: other processes used ${result.otherCpuPercent.toFixed(0)} % of a core and steal was ${result.stealPercent.toFixed(0)} % ` +
        "during this case, so its figures are disturbed"
    )
  }
}

export interface RunContext {
  readonly options: CacheBenchOptions
  readonly pinning: Pinning
  readonly mock: Server
  readonly ticksPerSecond: number
}

export const waitForQuiet = async (run: RunContext, childPids: ReadonlyArray<number>) => {
  if (run.options.quietWaitMs === 0) return
  const wait = await waitForQuietMachine([process.pid, ...childPids], run.options.quietWaitMs, run.ticksPerSecond)
  if (!wait.quiet) {
    console.log(`  Other processes still used ${wait.otherCpuPercent.toFixed(0)} % of a core after ${(wait.waitedMs / 1000).toFixed(0)} s, so the next case may be disturbed.`)
  }
}

export const caseContext = (run: RunContext, fluxen: Server): CaseContext => ({
  paths,
  clientCpus: run.pinning.clientCpus,
  clockTicksPerSecond: run.ticksPerSecond,
  mock: run.mock,
  fluxen
})

/** Shifts the user-turn seed of a retried run, so that its unique requests miss the entries the earlier runs stored. */
const reseeded = (spec: LoadSpec, attempt: number): LoadSpec => ({ ...spec, seed: (spec.seed ?? 1) + 7_919 * attempt })

/**
 * Runs one case against `fluxen` after waiting for a quiet machine, and
 * prints it. A run that other processes disturbed is repeated up to
 * `--retries` times, and the least disturbed run is returned.
 */
export const measureCase = async (
  run: RunContext,
  fluxen: Server,
  name: string,
  spec: LoadSpec,
  background?: LoadSpec
): Promise<CacheCaseResult> => {
  const disturbance = (result: CacheCaseResult) => result.otherCpuPercent + result.stealPercent
  let best: CacheCaseResult | undefined
  let attempts = 0
  while (attempts <= run.options.retries) {
    if (attempts > 0) {
      console.log(`    Repeating ${name} (run ${attempts + 1} of at most ${run.options.retries + 1}) because other processes disturbed it.`)
    }
    await waitForQuiet(run, [run.mock.child.pid, fluxen.child.pid])
    const retried = background === undefined ? undefined : reseeded(background, attempts)
    const result = await runCacheCase(name, reseeded(spec, attempts), caseContext(run, fluxen), retried)
    attempts++
    printCase(result)
    if (best === undefined || disturbance(result) < disturbance(best)) best = result
    if (!isDisturbed(result)) break
  }
  return { ...best!, attempts }
}

/** Sends one warm-up chat request and returns its `x-fluxen-cache` header. */
export const sendOnce = async (url: string, body: Buffer): Promise<string | null> => {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Uint8Array(body)
  })
  await response.arrayBuffer()
  if (response.status !== 200) throw new Error(`The warm-up request returned HTTP ${response.status}.`)
  return response.headers.get("x-fluxen-cache")
}

/** Runs a timing child on the proxy CPU and returns the JSON of every `RESULT` line it printed, killing it after `timeLimitMs`. */
export const runTimingChild = async (run: RunContext, name: string, script: string, argument: unknown, timeLimitMs: number) => {
  const child = new Child({
    name,
    cpus: run.pinning.proxyCpus,
    nodeArguments: [],
    script: Path.join(cacheDirectory, script),
    scriptArguments: [JSON.stringify(argument)]
  })
  const status = await child.waitForExit(timeLimitMs)
  if (status === undefined) await child.stop("SIGKILL", 5_000)
  const results = child
    .recentOutput()
    .split("\n")
    .filter((line) => line.startsWith(resultMarker))
    .map((line) => JSON.parse(line.slice(resultMarker.length)) as unknown)
  return { status: status ?? "killed at the time limit", results, output: child.recentOutput() }
}
