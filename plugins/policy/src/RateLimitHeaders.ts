/**
 * The `x-ratelimit-*` response headers, in the form OpenAI sends them:
 * `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
 * `x-ratelimit-reset-requests` and the `-tokens` equivalents. When several
 * limits of one unit apply (key, team, model), the one with the fewest
 * remaining units is reported.
 */
import type { ApplicableRate } from "./Limits.js"
import type { RateState } from "./LimitStore.js"

/** Formats a duration like OpenAI's reset headers: `20ms`, `1.5s`, `1m0s`. */
export const formatReset = (ms: number): string => {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(3))}s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes}m${Number(((ms - minutes * 60_000) / 1_000).toFixed(3))}s`
}

/** Writes the headers of the tightest limit per unit into `headers`. */
export const writeRateLimitHeaders = (
  headers: Record<string, string>,
  rates: ReadonlyArray<ApplicableRate>,
  states: ReadonlyArray<RateState>
): void => {
  for (const unit of ["requests", "tokens"] as const) {
    let tightest: number | undefined
    for (let index = 0; index < rates.length; index++) {
      if (rates[index]!.unit !== unit) continue
      if (tightest === undefined || states[index]!.remaining < states[tightest]!.remaining) tightest = index
    }
    if (tightest === undefined) continue
    headers[`x-ratelimit-limit-${unit}`] = String(rates[tightest]!.perMinute)
    headers[`x-ratelimit-remaining-${unit}`] = String(states[tightest]!.remaining)
    headers[`x-ratelimit-reset-${unit}`] = formatReset(states[tightest]!.resetMs)
  }
}

/** The headers sent with a refusal by one rate limit: its limit, nothing remaining, and when it passes again. */
export const refusalHeaders = (rate: ApplicableRate, retryAfterMs: number): Record<string, string> => ({
  [`x-ratelimit-limit-${rate.unit}`]: String(rate.perMinute),
  [`x-ratelimit-remaining-${rate.unit}`]: "0",
  [`x-ratelimit-reset-${rate.unit}`]: formatReset(retryAfterMs)
})
