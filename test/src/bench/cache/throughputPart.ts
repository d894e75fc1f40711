/**
 * The throughput part of the cache benchmark: cache hits against
 * pass-through requests (`cache-control: no-store`) and misses, plain and
 * streamed, and optionally the same hit and pass-through cases under
 * `node --cpu-prof`.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { summarizeProfile, type CpuProfile } from "../profileSummary.js"
import { stopFluxen, type UsageCounts } from "../targets.js"
import { startCacheFluxen } from "./cacheTargets.js"
import { runCacheCase, type CacheCaseResult, type LoadSpec } from "./cases.js"
import { compareThroughput, type ProfiledCase, type ThroughputComparison } from "./report.js"
import { repeatedBody } from "./requests.js"
import { caseContext, measureCase, paths, printCase, sendOnce, waitForQuiet, type RunContext } from "./runContext.js"

export interface ThroughputRun {
  readonly cases: Array<CacheCaseResult>
  readonly comparisons: Array<ThroughputComparison>
  /** Usage records each Fluxen wrote, from its shutdown log, or null when the line was missing. */
  readonly usage: { readonly plain: UsageCounts | null; readonly stream: UsageCounts | null }
}

/**
 * Starts Fluxen with the exact cache and stores the workload's own response
 * with two requests, the first a miss and the second a hit. A streamed
 * request stores the completion assembled from the mock's recorded stream,
 * so that a streamed hit replays the same content a pass-through relays. A
 * completion stored by a plain request would serve streamed requests too,
 * but the recorded JSON completion has far more content than the recorded
 * stream (1,842 against 32 characters in the current fixtures).
 */
const startWarmFluxen = async (run: RunContext, stream: boolean) => {
  const fluxen = await startCacheFluxen(paths, {
    cpus: run.pinning.proxyCpus,
    upstreamUrl: run.mock.url,
    semantic: undefined,
    nodeArguments: run.options.fluxenNodeFlags
  })
  try {
    const first = await sendOnce(fluxen.url, repeatedBody(stream))
    const second = await sendOnce(fluxen.url, repeatedBody(stream))
    if (first !== "miss" || second !== "hit") {
      throw new Error(`Warming the cache failed: the first request was "${first}" and the second "${second}", expected "miss" then "hit".`)
    }
    return fluxen
  } catch (error) {
    await stopFluxen(fluxen)
    throw error
  }
}

export const runThroughput = async (run: RunContext): Promise<ThroughputRun> => {
  const { options } = run
  const closedLoop = (stream: boolean, body: LoadSpec["body"], cacheControl?: string): LoadSpec => ({
    connections: options.connections,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    stream,
    body,
    ...(cacheControl === undefined ? {} : { cacheControl })
  })
  const workloads: Array<[boolean, Array<[string, LoadSpec]>]> = [
    [
      false,
      [
        ["plain hit", closedLoop(false, "repeated")],
        ["plain pass-through", closedLoop(false, "repeated", "no-store")],
        ["plain miss", closedLoop(false, "unique")]
      ]
    ],
    [
      true,
      [
        ["stream hit", closedLoop(true, "repeated")],
        ["stream pass-through", closedLoop(true, "repeated", "no-store")]
      ]
    ]
  ]

  const cases: Array<CacheCaseResult> = []
  const usage: { plain: UsageCounts | null; stream: UsageCounts | null } = { plain: null, stream: null }
  for (const [stream, specs] of workloads) {
    const fluxen = await startWarmFluxen(run, stream)
    try {
      for (const [name, spec] of specs) cases.push(await measureCase(run, fluxen, name, spec))
    } finally {
      usage[stream ? "stream" : "plain"] = (await stopFluxen(fluxen)) ?? null
    }
  }
  return { cases, comparisons: compareThroughput(cases), usage }
}

export interface ProfileRun {
  readonly cases: Array<CacheCaseResult>
  readonly profiles: Array<ProfiledCase & { readonly file: string }>
}

/**
 * Runs the hit and pass-through cases, plain and streamed, each in its own
 * Fluxen under `--cpu-prof`, and summarizes the main thread's samples of
 * the measured window.
 */
export const runProfiles = async (run: RunContext, resultsDirectory: string, stamp: string): Promise<ProfileRun> => {
  const { options } = run
  const profileDirectory = Path.join(resultsDirectory, `cache-profile-${stamp}`)
  mkdirSync(profileDirectory, { recursive: true })
  const cases: Array<CacheCaseResult> = []
  const profiles: Array<ProfiledCase & { readonly file: string }> = []
  const specs: Array<[string, boolean, string | undefined]> = [
    ["plain pass-through", false, "no-store"],
    ["plain hit", false, undefined],
    ["stream pass-through", true, "no-store"],
    ["stream hit", true, undefined]
  ]
  for (const [name, stream, cacheControl] of specs) {
    const fluxen = await startCacheFluxen(paths, {
      cpus: run.pinning.proxyCpus,
      upstreamUrl: run.mock.url,
      semantic: undefined,
      nodeArguments: [...run.options.fluxenNodeFlags, "--cpu-prof", "--cpu-prof-dir", profileDirectory]
    })
    let result: CacheCaseResult
    try {
      await sendOnce(fluxen.url, repeatedBody(stream))
      const spec: LoadSpec = {
        connections: options.connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        stream,
        body: "repeated",
        ...(cacheControl === undefined ? {} : { cacheControl })
      }
      await waitForQuiet(run, [run.mock.child.pid, fluxen.child.pid])
      result = await runCacheCase(`${name}, profiled`, spec, caseContext(run, fluxen))
      printCase(result)
      cases.push(result)
    } finally {
      await stopFluxen(fluxen)
    }

    // Node names the file CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile, where thread 0 is the main thread.
    const mainThread = new RegExp(`\\.${fluxen.child.pid}\\.0\\.\\d+\\.cpuprofile$`)
    const file = readdirSync(profileDirectory).find((entry) => mainThread.test(entry))
    if (file === undefined) throw new Error(`Fluxen wrote no CPU profile for its main thread in ${profileDirectory}.`)
    const profile = JSON.parse(readFileSync(Path.join(profileDirectory, file), "utf8")) as CpuProfile
    const window = { startMicros: result.windowMicros.start, endMicros: result.windowMicros.end }
    const inside = window.startMicros >= profile.startTime && window.endMicros <= profile.endTime
    if (!inside) throw new Error(`The measured window of ${name} is not inside the CPU profile ${file}.`)
    profiles.push({
      name,
      requests: result.load.succeeded,
      summary: summarizeProfile(profile, { window, top: 40, repositoryRoot: paths.repositoryRoot }),
      file: Path.relative(paths.repositoryRoot, Path.join(profileDirectory, file))
    })
  }
  return { cases, profiles }
}
