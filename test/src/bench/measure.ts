/**
 * One benchmark case: a load generator child runs one workload against one
 * target, and the runner reads the target's CPU time and memory from /proc
 * at the start and end of the measured window.
 */
import * as Path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import type { TargetName } from "./options.js"
import { Child, readCpuTicks, readMemory, readSystemCpuTicks } from "./processes.js"
import type { ErrorCounts, LatencySummary } from "./protocol.js"
import type { Paths, Server } from "./targets.js"
import type { WorkloadName } from "./workloads.js"

export type LoadLevel = "loaded" | "unloaded"

export interface CaseSpec {
  readonly target: TargetName
  readonly workload: WorkloadName
  readonly load: LoadLevel
  readonly connections: number
  readonly warmupMs: number
  readonly durationMs: number
}

export interface CaseResult extends CaseSpec {
  readonly requestsPerSecond: number
  readonly succeeded: number
  readonly errors: ErrorCounts
  readonly errorSamples: ReadonlyArray<string>
  /** Milliseconds, from sending the request to the last body byte. */
  readonly latency: LatencySummary
  readonly meanResponseBytes: number
  readonly totalSucceeded: number
  readonly totalFailed: number
  /** The process that serves the load generator: the mock for `direct`, otherwise the proxy. */
  readonly server: {
    readonly pid: number
    /** CPU time (user + system, all threads) per successful request, in microseconds. */
    readonly cpuMicrosPerRequest: number
    /** CPU time over wall time in the window, in percent of one core. */
    readonly cpuPercent: number
    readonly rssBytes: number
    readonly peakRssBytes: number
    /** Estimated V8 heap allocation, absent for the mock because it runs without the probe. */
    readonly allocation?: {
      readonly bytesPerRequest: number
      readonly gcCount: number
      /** GC pause time over the window, in percent. */
      readonly gcPercent: number
    }
  }
  /** CPU use of the load generator plus, for proxied targets, the mock upstream, in percent of one core. */
  readonly clientCpuPercent: number
  /**
   * CPU use of every other process on the machine, the runner included, in
   * percent of one core. Above a few percent, the figures of this case are disturbed.
   */
  readonly otherCpuPercent: number
  /** CPU time the hypervisor gave to other virtual machines, in percent of one core. */
  readonly stealPercent: number
  /** `process.hrtime` readings at the window's start and end, in microseconds, to cut a CPU profile to the window. */
  readonly windowMicros: { readonly start: number; readonly end: number }
}

export interface CaseContext {
  readonly paths: Paths
  readonly clientCpus: string | undefined
  readonly clockTicksPerSecond: number
  readonly mock: Server
  readonly server: Server
  /** Whether `server` has allocationProbe.ts preloaded. */
  readonly probed: boolean
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n)

/** Other processes' CPU use, in percent of one core, below which the machine counts as quiet. */
export const quietBelowPercent = 10

/**
 * Samples the machine's CPU use each second until the processes other than
 * `ownPids` use less than `quietBelowPercent` of a core, or `maxWaitMs` has
 * passed. Returns the time waited and the last reading.
 */
export const waitForQuietMachine = async (
  ownPids: ReadonlyArray<number>,
  maxWaitMs: number,
  ticksPerSecond: number
): Promise<{ readonly waitedMs: number; readonly otherCpuPercent: number; readonly quiet: boolean }> => {
  const startedAt = performance.now()
  const readOwnTicks = () => ownPids.reduce((sum, pid) => sum + readCpuTicks(pid), 0)
  while (true) {
    const before = { system: readSystemCpuTicks().busy, own: readOwnTicks(), at: performance.now() }
    await sleep(1_000)
    const seconds = (performance.now() - before.at) / 1000
    const otherTicks = readSystemCpuTicks().busy - before.system - (readOwnTicks() - before.own)
    const otherCpuPercent = Math.max(0, (100 * otherTicks) / ticksPerSecond / seconds)
    const waitedMs = performance.now() - startedAt
    const quiet = otherCpuPercent < quietBelowPercent
    if (quiet || waitedMs >= maxWaitMs) return { waitedMs, otherCpuPercent, quiet }
  }
}

export const runCase = async (spec: CaseSpec, context: CaseContext): Promise<CaseResult> => {
  const { server, mock } = context
  const loader = new Child({
    name: `load generator (${spec.target}, ${spec.workload}, ${spec.load})`,
    cpus: context.clientCpus,
    nodeArguments: [],
    script: Path.join(context.paths.benchDirectory, "loadGenerator.js"),
    scriptArguments: [
      JSON.stringify({
        url: server.url,
        workload: spec.workload,
        connections: spec.connections,
        warmupMs: spec.warmupMs,
        durationMs: spec.durationMs
      })
    ]
  })
  const clientPids = server.child === mock.child ? [loader.pid] : [loader.pid, mock.child.pid]
  const readClientTicks = () => clientPids.reduce((sum, pid) => sum + readCpuTicks(pid), 0)

  try {
    await loader.nextMessage("measure-start", spec.warmupMs + 30_000)
    const startedAt = performance.now()
    const start = { micros: monotonicMicros(), server: readCpuTicks(server.child.pid), client: readClientTicks(), system: readSystemCpuTicks() }
    if (context.probed) server.child.send({ type: "allocation-start" })

    await loader.nextMessage("measure-end", spec.durationMs + 30_000)
    const elapsedSeconds = (performance.now() - startedAt) / 1000
    const end = { micros: monotonicMicros(), server: readCpuTicks(server.child.pid), client: readClientTicks(), system: readSystemCpuTicks() }
    if (context.probed) server.child.send({ type: "allocation-stop" })
    const memory = readMemory(server.child.pid)
    const allocation = context.probed ? (await server.child.nextMessage("allocation", 10_000)).sample : undefined

    const { result } = await loader.nextMessage("load-result", 60_000)
    await loader.waitForExit(5_000)
    const serverSeconds = (end.server - start.server) / context.clockTicksPerSecond
    const clientSeconds = (end.client - start.client) / context.clockTicksPerSecond
    const systemSeconds = (end.system.busy - start.system.busy) / context.clockTicksPerSecond
    const stealSeconds = (end.system.steal - start.system.steal) / context.clockTicksPerSecond
    const perRequest = (total: number) => (result.succeeded === 0 ? 0 : total / result.succeeded)

    return {
      ...spec,
      requestsPerSecond: result.succeeded / (result.windowMs / 1000),
      succeeded: result.succeeded,
      errors: result.errors,
      errorSamples: result.errorSamples,
      latency: result.latency,
      meanResponseBytes: result.meanResponseBytes,
      totalSucceeded: result.totalSucceeded,
      totalFailed: result.totalFailed,
      server: {
        pid: server.child.pid,
        cpuMicrosPerRequest: perRequest(serverSeconds * 1e6),
        cpuPercent: (100 * serverSeconds) / elapsedSeconds,
        rssBytes: memory.rssBytes,
        peakRssBytes: memory.peakRssBytes,
        ...(allocation === undefined
          ? {}
          : {
              allocation: {
                bytesPerRequest: perRequest(allocation.allocatedBytes),
                gcCount: allocation.gcCount,
                gcPercent: (100 * allocation.gcPauseMs) / allocation.windowMs
              }
            })
      },
      clientCpuPercent: (100 * clientSeconds) / elapsedSeconds,
      otherCpuPercent: Math.max(0, (100 * (systemSeconds - serverSeconds - clientSeconds)) / elapsedSeconds),
      stealPercent: (100 * stealSeconds) / elapsedSeconds,
      windowMicros: { start: start.micros, end: end.micros }
    }
  } finally {
    await loader.stop("SIGTERM", 5_000)
  }
}
