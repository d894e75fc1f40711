import { Effect } from "effect"

/**
 * Returns the exit status that lost usage records call for, and logs them: 1 when any were
 * lost, so that a supervisor or an operator can notice, and 0 otherwise. Run it after the
 * usage writer's last flush.
 */
export const lostRecordsExitStatus = (lostUsageRecords: number): Effect.Effect<0 | 1> => {
  if (lostUsageRecords === 0) return Effect.succeed(0)
  return Effect.logError("Usage records were lost, so Fluxen exits with status 1").pipe(
    Effect.annotateLogs("usage.dropped", lostUsageRecords),
    Effect.as(1 as const)
  )
}
