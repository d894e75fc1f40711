/**
 * The forecaster's section of `fluxen.yaml`. The host decodes it with
 * {@link ForecasterConfig} before the plugin starts and reports a bad value
 * with its YAML path.
 */
import { ModelPrice } from "@fluxen/analyzer"
import { DurationMillis, TimerMillis } from "@fluxen/sdk"
import { Schema } from "effect"
import { BudgetPeriod } from "./periods.js"
import { SpendScopeText } from "./SpendScope.js"

export { DurationMillis }

const HttpUrl = Schema.String.pipe(Schema.pattern(/^https?:\/\//, { message: () => "must be an http:// or https:// URL" }))

/** A fraction of a budget's limit that the projected spend must reach to alert, such as 0.8 or 1. */
export const AlertFraction = Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(10))

export const DEFAULT_ALERT_AT: ReadonlyArray<number> = [1]
export const DEFAULT_CHECK_INTERVAL_MS = 15 * 60_000
export const DEFAULT_HISTORY_DAYS = 56
/**
 * One week: a projection from fewer days has seen only some weekdays, and
 * a month of weekday traffic projected from two Mondays overshoots.
 */
export const DEFAULT_ALERT_MIN_HISTORY_DAYS = 7
export const DEFAULT_LOOKBACK_DAYS = 30
export const DEFAULT_MIN_REQUESTS = 20
export const DEFAULT_MAX_P90_COMPLETION_TOKENS = 300
export const DEFAULT_MAX_P90_PROMPT_TOKENS = 4_000
export const DEFAULT_SHADOW_SAMPLE_RATE = 0.01
export const DEFAULT_SHADOW_TIMEOUT_MS = 60_000
export const DEFAULT_SHADOW_MAX_CONCURRENT = 2

/** A USD limit on one scope's spend in one calendar period (UTC). */
export const ForecastBudget = Schema.Struct({
  /** `global`, `key:<id>`, `team:<name>`, `model:<name>` or `requested_model:<name>`. */
  scope: SpendScopeText,
  period: BudgetPeriod,
  limitUsd: Schema.Number.pipe(Schema.positive(), Schema.finite()),
  /** Fractions of `limitUsd` that trigger an alert; the plugin's `alertAt` applies when absent. */
  alertAt: Schema.optional(Schema.Array(AlertFraction).pipe(Schema.minItems(1)))
})
export type ForecastBudget = typeof ForecastBudget.Type

export const RecommendationsConfig = Schema.Struct({
  /** Days of usage the recommendations look at, ending now. */
  lookbackDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 366)), { default: () => DEFAULT_LOOKBACK_DAYS }),
  /** Minimum number of successful requests a model needs in the lookback to be considered. */
  minRequests: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_MIN_REQUESTS }),
  /** A model qualifies when 90% of its requests produced at most this many completion tokens. */
  maxP90CompletionTokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), {
    default: () => DEFAULT_MAX_P90_COMPLETION_TOKENS
  }),
  /** A model qualifies when 90% of its requests sent at most this many prompt tokens. */
  maxP90PromptTokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_MAX_P90_PROMPT_TOKENS })
})
export type RecommendationsConfig = typeof RecommendationsConfig.Type

export const ShadowConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Fraction of eligible successful chat requests that are sent again to the candidate model. */
  sampleRate: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => DEFAULT_SHADOW_SAMPLE_RATE }),
  /** The candidate model per model, by the name the client sends or the upstream model name, e.g. `gpt-4o: gpt-4o-mini`. */
  candidates: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String.pipe(Schema.minLength(1)) }), {
    default: () => ({})
  }),
  /** The gateway's own OpenAI-compatible root, e.g. `http://127.0.0.1:8080/v1`; shadow requests go through it. */
  baseUrl: Schema.optional(HttpUrl),
  /** Sent as `Authorization: Bearer` with each shadow request. */
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** Maximum silence while waiting for a shadow response, as for upstream requests. */
  timeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_SHADOW_TIMEOUT_MS }),
  /** Shadow requests in flight at once; a sample drawn while all are busy is skipped, never queued. */
  maxConcurrent: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_SHADOW_MAX_CONCURRENT })
}).pipe(
  Schema.filter((shadow) => !shadow.enabled || shadow.baseUrl !== undefined || "an enabled shadow evaluation needs a baseUrl"),
  Schema.filter(
    (shadow) => !shadow.enabled || Object.keys(shadow.candidates).length > 0 || "an enabled shadow evaluation needs at least one candidate"
  )
)
export type ShadowConfig = typeof ShadowConfig.Type

export const ForecasterConfig = Schema.Struct({
  /** The secret of the forecast and recommendation routes (`Authorization: Bearer <adminKey>`); the routes are open when absent. */
  adminKey: Schema.optional(
    Schema.Redacted(Schema.String.pipe(Schema.minLength(16, { message: () => "must be at least 16 characters long" })))
  ),
  budgets: Schema.optionalWith(Schema.Array(ForecastBudget), { default: () => [] }),
  /** Fractions of a budget's limit that the projected period spend must reach to alert, for budgets that set none. */
  alertAt: Schema.optionalWith(Schema.Array(AlertFraction).pipe(Schema.minItems(1)), { default: () => DEFAULT_ALERT_AT }),
  /** The projection compared with the thresholds: the expected spend, or the upper end of its 80% or 95% interval. */
  alertOn: Schema.optionalWith(Schema.Literal("expected", "upper80", "upper95"), { default: () => "expected" as const }),
  /**
   * Complete days of history a forecast needs before its projection can
   * alert. With fewer, a budget alerts only when its recorded spend already
   * reaches a threshold.
   */
  alertMinHistoryDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 366)), { default: () => DEFAULT_ALERT_MIN_HISTORY_DAYS }),
  /** Receives a JSON POST for each alert. */
  webhookUrl: Schema.optional(HttpUrl),
  /** Time between two budget checks. */
  checkInterval: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_CHECK_INTERVAL_MS }),
  /** Complete days of history a forecast is fitted on, at most; Holt-Winters needs 21 of them. */
  historyDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(21, 732)), { default: () => DEFAULT_HISTORY_DAYS }),
  recommendations: Schema.optionalWith(RecommendationsConfig, {
    default: () => ({
      lookbackDays: DEFAULT_LOOKBACK_DAYS,
      minRequests: DEFAULT_MIN_REQUESTS,
      maxP90CompletionTokens: DEFAULT_MAX_P90_COMPLETION_TOKENS,
      maxP90PromptTokens: DEFAULT_MAX_P90_PROMPT_TOKENS
    })
  }),
  /** Price overrides in USD per million tokens, as in the analyzer's `pricing.overrides`. */
  pricing: Schema.optionalWith(
    Schema.Struct({
      overrides: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelPrice }), { default: () => ({}) })
    }),
    { default: () => ({ overrides: {} }) }
  ),
  shadow: Schema.optional(ShadowConfig)
})
export type ForecasterConfig = typeof ForecasterConfig.Type
