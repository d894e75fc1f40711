import { Effect } from "effect"

/** Usage records that the gateway did not write. */
export interface LostUsageRecords {
  /** Records that the usage writer dropped: from a full queue, after an insert that died, or when shutdown gave up. */
  readonly dropped: number
  /** Requests that ended after the usage writer's last flush, so that their records were not written. */
  readonly unrecordedRequests: number
}

/**
 * Returns the exit status that lost usage records call for, and logs them: 1 when any were
 * lost, so that a supervisor or an operator can notice, and 0 otherwise. Run it after the
 * usage writer's last flush. NOTE: a request that ends after this call is not counted.
 */
export const lostRecordsExitStatus = (lost: LostUsageRecords): Effect.Effect<0 | 1> => {
  if (lost.dropped === 0 && lost.unrecordedRequests === 0) return Effect.succeed(0)
  return Effect.logError(
    "Usage records were lost, so Fluxen exits with status 1. " +
      "usage.dropped counts records the usage writer dropped, and requests.unrecorded counts requests that ended after its last flush."
  ).pipe(
    Effect.annotateLogs({ "usage.dropped": lost.dropped, "requests.unrecorded": lost.unrecordedRequests }),
    Effect.as(1 as const)
  )
}
