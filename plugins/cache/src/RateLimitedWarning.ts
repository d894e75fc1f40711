/** A warning logged at most once per interval, for failures that can repeat on every request. */
import { Clock, Effect } from "effect"

export type RateLimitedWarning = (message: string, annotations: Readonly<Record<string, unknown>>) => Effect.Effect<void>

/**
 * Makes a logger that drops warnings within `intervalMs` of the last one it
 * logged. The next logged warning carries the number dropped in between as
 * `log.suppressed`.
 */
export const makeRateLimitedWarning = (intervalMs: number): RateLimitedWarning => {
  let lastLoggedAt = Number.NEGATIVE_INFINITY
  let suppressed = 0

  return (message, annotations) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - lastLoggedAt < intervalMs) {
        suppressed++
        return Effect.void
      }
      const dropped = suppressed
      suppressed = 0
      lastLoggedAt = now
      return Effect.logWarning(message).pipe(
        Effect.annotateLogs(dropped > 0 ? { ...annotations, "log.suppressed": dropped } : annotations)
      )
    })
}
