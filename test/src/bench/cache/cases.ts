/**
 * One case of the cache benchmark. A load generator (cacheLoadGenerator.ts)
 * runs against Fluxen, optionally next to a second, background generator.
 * The runner reads the CPU time of Fluxen, of the client processes and of
 * the whole machine from /proc at the start and end of the measured window.
 */
import * as Path from "node:path"
import { Child, readCpuTicks, readSystemCpuTicks } from "../processes.js"
import type { Paths, Server } from "../targets.js"
import type { CacheLoadOptions, CacheLoadResult } from "./cacheLoadGenerator.js"

export type LoadSpec = Omit<CacheLoadOptions, "url">

export interface CaseContext {
  readonly paths: Paths
  readonly clientCpus: string | undefined
  readonly clockTicksPerSecond: number
  readonly mock: Server
  readonly fluxen: Server
}

export interface CacheCaseResult {
  readonly name: string
  readonly spec: LoadSpec
  readonly load: CacheLoadResult
  /** Successful requests per second of the measured window. */
  readonly requestsPerSecond: number
  /** The background load while the window ran, absent when there was none. */
  readonly background?: {
    readonly spec: LoadSpec
    /** Measured over the background generator's own window, which covers the foreground's. */
    readonly load: CacheLoadResult
    readonly requestsPerSecond: number
  }
  readonly fluxen: {
    readonly pid: number
    /** CPU time (user + system, all threads) per successful foreground request, in microseconds. */
    readonly cpuMicrosPerRequest: number
    /** CPU time over wall time in the window, in percent of one core. */
    readonly cpuPercent: number
  }
  /** CPU use of the load generators and the mock upstream, in percent of one core. */
  readonly clientCpuPercent: number
  /** CPU use of every other process, the runner included, in percent of one core. Above about 10 % the case is disturbed. */
  readonly otherCpuPercent: number
  /** CPU time the hypervisor gave to other virtual machines, in percent of one core. */
  readonly stealPercent: number
  /** `process.hrtime` readings at the window's start and end, in microseconds, to cut a CPU profile to the window. */
  readonly windowMicros: { readonly start: number; readonly end: number }
  /** Runs of the case. Above 1, the earlier runs were disturbed by other processes and this is the least disturbed run. */
  readonly attempts: number
}

const startLoadGenerator = (name: string, spec: LoadSpec, context: CaseContext): Child =>
  new Child({
    name: `load generator (${name})`,
    cpus: context.clientCpus,
    nodeArguments: [],
    script: Path.join(context.paths.benchDirectory, "cache", "cacheLoadGenerator.js"),
    scriptArguments: [JSON.stringify({ url: context.fluxen.url, ...spec } satisfies CacheLoadOptions)]
  })

const resultOf = async (loader: Child): Promise<CacheLoadResult> => {
  const { result } = await loader.nextMessage("load-result", 60_000)
  await loader.waitForExit(5_000)
  return result as CacheLoadResult
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n)

const rateOf = (load: CacheLoadResult) => load.succeeded / (load.windowMs / 1000)

/**
 * Runs `spec` against Fluxen and measures it. With `background`, that load
 * starts first, and the foreground generator starts once the background's
 * warm-up is over. The background must last longer than the foreground's
 * warm-up and window together.
 */
export const runCacheCase = async (
  name: string,
  spec: LoadSpec,
  context: CaseContext,
  background?: LoadSpec
): Promise<CacheCaseResult> => {
  const loaders: Array<Child> = []
  try {
    let backgroundLoader: Child | undefined
    if (background !== undefined) {
      backgroundLoader = startLoadGenerator(`${name}, background`, background, context)
      loaders.push(backgroundLoader)
      await backgroundLoader.nextMessage("measure-start", background.warmupMs + 30_000)
    }
    const loader = startLoadGenerator(name, spec, context)
    loaders.push(loader)
    const clientPids = [...loaders.map((child) => child.pid), context.mock.child.pid]
    const readClientTicks = () => clientPids.reduce((sum, pid) => sum + readCpuTicks(pid), 0)

    await loader.nextMessage("measure-start", spec.warmupMs + 30_000)
    const startedAt = performance.now()
    const start = { micros: monotonicMicros(), fluxen: readCpuTicks(context.fluxen.child.pid), client: readClientTicks(), system: readSystemCpuTicks() }
    await loader.nextMessage("measure-end", spec.durationMs + 30_000)
    const end = { micros: monotonicMicros(), fluxen: readCpuTicks(context.fluxen.child.pid), client: readClientTicks(), system: readSystemCpuTicks() }
    const elapsedSeconds = (performance.now() - startedAt) / 1000

    const load = await resultOf(loader)
    const backgroundLoad = backgroundLoader === undefined ? undefined : await resultOf(backgroundLoader)
    const seconds = (ticks: number) => ticks / context.clockTicksPerSecond
    const fluxenSeconds = seconds(end.fluxen - start.fluxen)
    const clientSeconds = seconds(end.client - start.client)
    const systemSeconds = seconds(end.system.busy - start.system.busy)
    const percent = (busySeconds: number) => (100 * busySeconds) / elapsedSeconds

    return {
      name,
      spec,
      load,
      requestsPerSecond: rateOf(load),
      ...(background === undefined || backgroundLoad === undefined
        ? {}
        : { background: { spec: background, load: backgroundLoad, requestsPerSecond: rateOf(backgroundLoad) } }),
      fluxen: {
        pid: context.fluxen.child.pid,
        cpuMicrosPerRequest: load.succeeded === 0 ? 0 : (fluxenSeconds * 1e6) / load.succeeded,
        cpuPercent: percent(fluxenSeconds)
      },
      clientCpuPercent: percent(clientSeconds),
      otherCpuPercent: Math.max(0, percent(systemSeconds - fluxenSeconds - clientSeconds)),
      stealPercent: percent(seconds(end.system.steal - start.system.steal)),
      windowMicros: { start: start.micros, end: end.micros },
      attempts: 1
    }
  } finally {
    await Promise.all(loaders.map((loader) => loader.stop("SIGTERM", 5_000)))
  }
}
