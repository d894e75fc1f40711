/**
 * Warnings that could repeat on every request, limited so that a failing
 * dependency or a misconfiguration cannot flood the log.
 */
import { Effect } from "effect"

type Annotations = Record<string, unknown>

/**
 * Returns a warning that is logged at most once per `intervalMs`. Each
 * logged line carries `log.suppressed`, the number of calls skipped since the
 * previous line.
 */
export const makeThrottledWarning = (message: string, intervalMs: number, now: () => number = Date.now) => {
  let lastLoggedMs = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (annotations: Annotations = {}): Effect.Effect<void> =>
    Effect.suspend(() => {
      const nowMs = now()
      if (nowMs - lastLoggedMs < intervalMs) {
        suppressed++
        return Effect.void
      }
      const skipped = suppressed
      lastLoggedMs = nowMs
      suppressed = 0
      return Effect.logWarning(message).pipe(Effect.annotateLogs({ ...annotations, "log.suppressed": skipped }))
    })
}

/**
 * Returns a warning that is logged once per distinct subject (a model name,
 * an endpoint). After `maxSubjects` subjects, new ones are not logged.
 */
export const makeOncePerSubjectWarning = (message: string, maxSubjects = 1_000) => {
  const seen = new Set<string>()
  return (subject: string, annotations: Annotations = {}): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (seen.has(subject) || seen.size >= maxSubjects) return Effect.void
      seen.add(subject)
      return Effect.logWarning(message).pipe(Effect.annotateLogs(annotations))
    })
}
