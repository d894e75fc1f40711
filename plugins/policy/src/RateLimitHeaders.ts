/**
 * The `x-ratelimit-*` response headers, in the form OpenAI sends them:
 * `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
 * `x-ratelimit-reset-requests` and the `-tokens` equivalents. When several
 * limits of one unit apply (key, team, model), the one with the fewest
 * remaining units is reported. Responses on Anthropic's routes get
 * Anthropic's `anthropic-ratelimit-*` names as well.
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

/**
 * Writes one limit's headers. With `anthropicNowMs` (a response on Anthropic's
 * routes) it also writes Anthropic's names, `anthropic-ratelimit-requests-limit`
 * and so on, whose reset is the RFC 3339 time at which the limit is whole again.
 */
const writeLimit = (
  headers: Record<string, string>,
  unit: ApplicableRate["unit"],
  values: { readonly limit: number; readonly remaining: number; readonly resetMs: number },
  anthropicNowMs: number | undefined
): void => {
  headers[`x-ratelimit-limit-${unit}`] = String(values.limit)
  headers[`x-ratelimit-remaining-${unit}`] = String(values.remaining)
  headers[`x-ratelimit-reset-${unit}`] = formatReset(values.resetMs)
  if (anthropicNowMs === undefined) return
  headers[`anthropic-ratelimit-${unit}-limit`] = String(values.limit)
  headers[`anthropic-ratelimit-${unit}-remaining`] = String(values.remaining)
  headers[`anthropic-ratelimit-${unit}-reset`] = new Date(anthropicNowMs + Math.max(0, values.resetMs)).toISOString()
}

/** Writes the headers of the tightest limit per unit into `headers`. */
export const writeRateLimitHeaders = (
  headers: Record<string, string>,
  rates: ReadonlyArray<ApplicableRate>,
  states: ReadonlyArray<RateState>,
  anthropicNowMs?: number
): void => {
  for (const unit of ["requests", "tokens"] as const) {
    let tightest: number | undefined
    for (let index = 0; index < rates.length; index++) {
      if (rates[index]!.unit !== unit) continue
      if (tightest === undefined || states[index]!.remaining < states[tightest]!.remaining) tightest = index
    }
    if (tightest === undefined) continue
    const state = states[tightest]!
    writeLimit(headers, unit, { limit: rates[tightest]!.perMinute, remaining: state.remaining, resetMs: state.resetMs }, anthropicNowMs)
  }
}

/** The headers sent with a refusal by one rate limit: its limit, nothing remaining, and when it passes again. */
export const refusalHeaders = (rate: ApplicableRate, retryAfterMs: number, anthropicNowMs?: number): Record<string, string> => {
  const headers: Record<string, string> = {}
  writeLimit(headers, rate.unit, { limit: rate.perMinute, remaining: 0, resetMs: retryAfterMs }, anthropicNowMs)
  return headers
}
