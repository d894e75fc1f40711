/**
 * Messages exchanged over the IPC channel between the benchmark runner
 * (run.ts) and its child processes: the mock upstream, the proxies under
 * test and the load generator.
 */

/** Latency percentiles of the requests completed in the measured window, in milliseconds. */
export interface LatencySummary {
  readonly count: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

/** Failed requests by cause. */
export interface ErrorCounts {
  /** The response status was not 2xx. */
  readonly status: number
  /** The status was 2xx but the body was cut short, or a stream lacked `data: [DONE]`. */
  readonly incomplete: number
  /** The connection failed or the request timed out. */
  readonly transport: number
}

/** What one load generator run measured. Counts cover the measured window unless named `total`. */
export interface LoadResult {
  readonly connections: number
  /** Actual length of the measured window, in milliseconds. */
  readonly windowMs: number
  /** Requests completed with a 2xx status and a complete body. */
  readonly succeeded: number
  readonly errors: ErrorCounts
  /** Up to five error descriptions, for the report. */
  readonly errorSamples: ReadonlyArray<string>
  readonly latency: LatencySummary
  /** Mean size of a successful response body, in bytes. */
  readonly meanResponseBytes: number
  /** Successful requests over the whole run, warm-up included. */
  readonly totalSucceeded: number
  /** Failed requests over the whole run, warm-up included. */
  readonly totalFailed: number
}

/** Heap activity of a proxy process in the measured window, as estimated by allocationProbe.ts. */
export interface AllocationSample {
  /** Bytes allocated on the V8 heap; Buffer contents (external memory) are not included. */
  readonly allocatedBytes: number
  readonly gcCount: number
  /** Time spent in garbage collection pauses, in milliseconds. */
  readonly gcPauseMs: number
  readonly windowMs: number
}

export type ChildMessage =
  /** A server child is accepting connections at `url`. */
  | { readonly type: "listening"; readonly url: string }
  /** The load generator finished its warm-up and starts counting. */
  | { readonly type: "measure-start" }
  /** The load generator stopped counting; in-flight requests are finishing. */
  | { readonly type: "measure-end" }
  | { readonly type: "load-result"; readonly result: LoadResult }
  | { readonly type: "allocation"; readonly sample: AllocationSample }

export type RunnerMessage = { readonly type: "allocation-start" } | { readonly type: "allocation-stop" }

/** Sends `message` to the parent process; does nothing when there is no IPC channel. */
export const sendToRunner = (message: ChildMessage): void => {
  if (process.send !== undefined && process.connected) process.send(message)
}
