/** The lifetime of cached responses and vectors, as the configuration and the `x-fluxen-cache-ttl` header set it. */
import { DurationMillisBetween } from "@fluxen/sdk"

/** The maximum TTL in seconds (10 years), so that milliseconds stay exact. */
export const MAX_TTL_SECONDS = 315_360_000

/**
 * A TTL from 1 millisecond to {@link MAX_TTL_SECONDS}. It is compared with timestamps and sent to Redis
 * as `PX`, never given to a timer, so it may be longer than a timer can wait.
 */
export const Ttl = DurationMillisBetween(1, MAX_TTL_SECONDS * 1_000, "10 years")
