/** The retry policy: which upstream failures get another attempt, and the wait before it. */
import type { GatewayError } from "@fluxen/sdk"
import type { RetryConfig } from "../config/FluxenConfig.js"

/** 429, 5xx, timeouts and connection errors: another deployment, or the same one later, may succeed. */
export const isRetryable = (error: GatewayError): boolean => {
  switch (error._tag) {
    case "UpstreamHttpError":
      return error.status === 429 || error.status === 408 || error.status >= 500
    case "UpstreamTimeoutError":
    case "UpstreamUnreachableError":
      return true
    default:
      return false
  }
}

/** Reads the upstream's requested delay in milliseconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export const retryAfterMs = (error: GatewayError, now: number): number | undefined => {
  if (error._tag !== "UpstreamHttpError") return undefined
  const milliseconds = Number(error.headers["retry-after-ms"])
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds
  const value = error.headers["retry-after"]
  if (value === undefined) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * The wait before retry number `attempt` (0 for the first retry): the
 * upstream's `retry-after` when it sent one, otherwise exponential backoff
 * with full jitter. Returns undefined when the upstream requests a wait longer
 * than `maxDelay`, so the caller moves on instead of waiting.
 */
export const retryDelayMs = (
  error: GatewayError,
  attempt: number,
  policy: RetryConfig,
  now: number,
  random: () => number = Math.random
): number | undefined => {
  const requested = retryAfterMs(error, now)
  if (requested !== undefined) return requested <= policy.maxDelay ? requested : undefined
  const ceiling = Math.min(policy.maxDelay, policy.initialDelay * 2 ** attempt)
  return Math.floor(random() * ceiling)
}
