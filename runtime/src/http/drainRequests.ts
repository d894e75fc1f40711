/**
 * The drain at shutdown, the same behind every HTTP server: in-flight
 * requests and streams get until the deadline to finish, then the server
 * cuts off the rest, which end as cancelled and queue their usage records.
 */
import { Effect } from "effect"
import type { InflightRequests } from "../pipeline/ProxyHandler.js"

export interface DrainOptions {
  /** How long in-flight requests get to finish, in milliseconds. */
  readonly shutdownTimeoutMs: number
  /**
   * Ends the remaining requests as if their clients had left, after the wait. A returned
   * promise resolves once their connections are closed, and must resolve within a bounded time.
   */
  readonly cutOff: () => void | Promise<void>
}

/** How long requests cut off at the shutdown deadline get to end and queue their usage records. */
const cancelledRequestsGraceMs = 2_000

/**
 * Waits for the in-flight requests, then calls `cutOff` (also when all of them ended, so that
 * a server can close its idle connections there). A release runs uninterruptibly, so each wait
 * is made interruptible for its timeout to end it.
 */
export const drainRequests = (inflight: InflightRequests, options: DrainOptions): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Effect.logInfo("Draining in-flight requests").pipe(Effect.annotateLogs("requests", inflight.size))
    const drained = yield* Effect.promise(() => inflight.drained()).pipe(
      Effect.interruptible,
      Effect.timeout(options.shutdownTimeoutMs),
      Effect.option
    )
    if (drained._tag === "None") {
      yield* Effect.logWarning("Shutdown deadline reached; closing the remaining connections").pipe(
        Effect.annotateLogs("requests", inflight.size)
      )
    }
    const cut = options.cutOff()
    // Not interruptible like the waits above, because the shutdown already interrupted this fiber
    // and the wait would end at once. A server's `cutOff` bounds its own wait instead.
    if (cut !== undefined) yield* Effect.promise(() => cut)
    if (drained._tag === "Some") return

    // The requests just cut off end as cancelled. Their usage records are queued as they end,
    // so they are given a moment to end before the writer's last flush.
    const ended = yield* Effect.promise(() => inflight.drained()).pipe(
      Effect.interruptible,
      Effect.timeout(cancelledRequestsGraceMs),
      Effect.option
    )
    if (ended._tag === "None") {
      yield* Effect.logWarning("Requests are still running after their connections closed, so their usage records may be lost").pipe(
        Effect.annotateLogs("requests", inflight.size)
      )
    }
  })
