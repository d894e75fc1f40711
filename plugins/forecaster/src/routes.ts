/**
 * The forecaster's HTTP routes:
 *
 * - `GET /v1/fluxen/forecast?scope=<scope>&period=day|week|month`: the
 *   scope's daily history, the forecast of each remaining day of the period
 *   with 80% and 95% intervals, the period-end projection, and the outlook
 *   of each configured budget of that scope and period.
 * - `GET /v1/fluxen/recommendations[?lookback_days=N]`: cheaper models that
 *   could likely serve each model's recent traffic, with the estimated
 *   monthly saving and any shadow evidence.
 *
 * Responses use snake_case keys, like the gateway's control routes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { PricingTable } from "@fluxen/analyzer"
import {
  InvalidRequestError,
  PluginError,
  type AuthenticationError,
  type GatewayError,
  type PluginHttpRequest,
  type PluginRoute,
  type RequestHeaders
} from "@fluxen/sdk"
import { Cause, Clock, Effect, Either } from "effect"
import type { Forecaster, ScopeForecast } from "./Forecaster.js"
import type { ForecastBudget, RecommendationsConfig } from "./ForecasterConfig.js"
import { DAY_MS, type BudgetPeriod } from "./periods.js"
import { budgetOutlook, type IntervalBounds } from "./projectPeriod.js"
import { coveredDays, recommendModels, type Recommendation } from "./recommend/recommendModels.js"
import type { UsageProfiles } from "./recommend/usageProfiles.js"
import type { ShadowStore, ShadowSummary } from "./shadow/ShadowStore.js"
import type { DailySpend } from "./spendSeries.js"
import { formatSpendScope, parseSpendScope } from "./SpendScope.js"

export const FORECAST_PATH = "/v1/fluxen/forecast"
export const RECOMMENDATIONS_PATH = "/v1/fluxen/recommendations"

const PERIODS: ReadonlyArray<string> = ["day", "week", "month"]

export interface RoutesOptions {
  readonly pluginName: string
  readonly authorize: (headers: RequestHeaders) => Effect.Effect<void, AuthenticationError>
  readonly forecaster: Forecaster
  readonly budgets: ReadonlyArray<ForecastBudget>
  readonly defaultAlertAt: ReadonlyArray<number>
  readonly profiles: UsageProfiles
  readonly shadowStore: ShadowStore
  readonly pricing: PricingTable
  readonly recommendations: RecommendationsConfig
  readonly configuredCandidates: Readonly<Record<string, string>>
}

// ============================================================================
// JSON encoding
// ============================================================================

const encodeBounds = (bounds: IntervalBounds) => ({
  lower_80: bounds.lower80,
  upper_80: bounds.upper80,
  lower_95: bounds.lower95,
  upper_95: bounds.upper95
})

const encodeDay = (day: DailySpend) => ({
  date: day.date,
  cost_usd: day.costUsd,
  requests: day.requests,
  unpriced_requests: day.unpricedRequests
})

const encodeForecast = (forecast: ScopeForecast, budgets: ReadonlyArray<ForecastBudget>, defaultAlertAt: ReadonlyArray<number>, nowMs: number) => {
  const { projection } = forecast.period
  return {
    object: "fluxen.forecast",
    scope: formatSpendScope(forecast.scope),
    period: forecast.window.period,
    generated_at: new Date(nowMs).toISOString(),
    period_start: projection.periodStart,
    period_end: projection.periodEnd,
    method: forecast.model.method,
    parameters: forecast.model.parameters,
    residual_std_usd: forecast.model.residualStd ?? null,
    history: forecast.history.map(encodeDay),
    today: encodeDay(forecast.today),
    forecast: forecast.period.points.map((point) => ({
      date: point.date,
      cost_usd: point.costUsd,
      recorded_usd: point.recordedUsd,
      ...encodeBounds(point)
    })),
    projection: { spent_usd: projection.spentUsd, projected_usd: projection.projectedUsd, ...encodeBounds(projection) },
    budgets: budgets.map((budget) => {
      const outlook = budgetOutlook(forecast.period, budget.limitUsd)
      return {
        scope: budget.scope,
        period: budget.period,
        limit_usd: budget.limitUsd,
        alert_at: budget.alertAt ?? defaultAlertAt,
        projected_fraction: outlook.projectedFraction,
        status: outlook.status,
        exhaustion_date: outlook.exhaustionDate
      }
    })
  }
}

const encodeShadow = (summary: ShadowSummary) => ({
  model: summary.model,
  candidate: summary.candidate,
  samples: summary.samples,
  failed: summary.failed,
  exact_match: {
    samples: summary.exactSamples,
    matches: summary.exactMatches,
    rate: summary.exactSamples === 0 ? null : summary.exactMatches / summary.exactSamples
  },
  lexical_similarity: { samples: summary.jaccardSamples, mean_jaccard: summary.meanJaccard }
})

const encodeRecommendation = (recommendation: Recommendation) => ({
  from: recommendation.from,
  to: recommendation.to,
  requested_models: recommendation.requestedModels,
  why: {
    rule: recommendation.why.rule,
    summary: recommendation.why.summary,
    p90_completion_tokens: recommendation.why.p90CompletionTokens,
    max_p90_completion_tokens: recommendation.why.maxP90CompletionTokens,
    p90_prompt_tokens: recommendation.why.p90PromptTokens,
    max_p90_prompt_tokens: recommendation.why.maxP90PromptTokens,
    candidate_source: recommendation.why.candidateSource,
    family: recommendation.why.family
  },
  requests: recommendation.requests,
  current_cost_usd: recommendation.currentCostUsd,
  candidate_cost_usd: recommendation.candidateCostUsd,
  monthly_saving_usd: recommendation.monthlySavingUsd,
  confidence: recommendation.confidence,
  evidence: { shadow: recommendation.evidence.shadow === null ? null : encodeShadow(recommendation.evidence.shadow) }
})

// ============================================================================
// Handlers
// ============================================================================

const invalid = (param: string, message: string) => new InvalidRequestError({ message, param, code: "invalid_value" })

const readPeriod = (request: PluginHttpRequest): Either.Either<BudgetPeriod, InvalidRequestError> => {
  const period = request.query.get("period") ?? "month"
  return PERIODS.includes(period)
    ? Either.right(period as BudgetPeriod)
    : Either.left(invalid("period", `Invalid period ${JSON.stringify(period)}: expected day, week or month.`))
}

const readLookbackDays = (request: PluginHttpRequest, fallback: number): Either.Either<number, InvalidRequestError> => {
  const text = request.query.get("lookback_days")
  if (text === null) return Either.right(fallback)
  const days = Number(text)
  return Number.isInteger(days) && days >= 1 && days <= 366
    ? Either.right(days)
    : Either.left(invalid("lookback_days", `Invalid lookback_days ${JSON.stringify(text)}: expected a whole number of days from 1 to 366.`))
}

export const makeRoutes = (options: RoutesOptions): ReadonlyArray<PluginRoute> => {
  // A database failure is logged with its cause and returned as a 500 whose message leaves the cause out.
  const databaseFailure = (route: string) => (error: SqlError) =>
    Effect.zipRight(
      Effect.logError(`Reading the usage table for ${route} failed.`, Cause.fail(error)).pipe(
        Effect.annotateLogs({ plugin: options.pluginName })
      ),
      Effect.fail(new PluginError({ plugin: options.pluginName, hook: route, message: `Reading the usage table for ${route} failed.` }))
    )

  const forecast = (request: PluginHttpRequest): Effect.Effect<{ status: number; body: unknown }, GatewayError> =>
    Effect.gen(function* () {
      yield* options.authorize(request.headers)

      const scopeText = request.query.get("scope") ?? "global"
      const scope = yield* Either.mapLeft(parseSpendScope(scopeText), (message) => invalid("scope", `${message}.`))
      const period = yield* readPeriod(request)
      const nowMs = yield* Clock.currentTimeMillis

      const result = yield* options.forecaster.forecast(scope, period, nowMs).pipe(Effect.catchAll(databaseFailure(`GET ${FORECAST_PATH}`)))
      const scopeKey = formatSpendScope(scope)
      const budgets = options.budgets.filter((budget) => budget.period === period && budget.scope === scopeKey)
      return { status: 200, body: encodeForecast(result, budgets, options.defaultAlertAt, nowMs) }
    })

  const recommendations = (request: PluginHttpRequest): Effect.Effect<{ status: number; body: unknown }, GatewayError> =>
    Effect.gen(function* () {
      yield* options.authorize(request.headers)

      const lookbackDays = yield* readLookbackDays(request, options.recommendations.lookbackDays)
      const nowMs = yield* Clock.currentTimeMillis
      const fromMs = nowMs - lookbackDays * DAY_MS

      const { profiles, firstMs, shadow } = yield* Effect.all({
        profiles: options.profiles.read(fromMs, nowMs),
        firstMs: options.profiles.firstRequestMs(nowMs),
        shadow: options.shadowStore.summaries(fromMs, nowMs)
      }).pipe(Effect.catchAll(databaseFailure(`GET ${RECOMMENDATIONS_PATH}`)))

      const covered = coveredDays({ lookbackDays, nowMs, firstRequestMs: firstMs })
      const list = recommendModels({
        profiles,
        pricing: options.pricing,
        rules: options.recommendations,
        coveredDays: covered,
        configuredCandidates: options.configuredCandidates,
        shadowSummaries: shadow
      })

      return {
        status: 200,
        body: {
          object: "fluxen.recommendations",
          generated_at: new Date(nowMs).toISOString(),
          lookback_days: lookbackDays,
          covered_days: covered,
          price_version: options.pricing.version,
          rules: {
            min_requests: options.recommendations.minRequests,
            max_p90_completion_tokens: options.recommendations.maxP90CompletionTokens,
            max_p90_prompt_tokens: options.recommendations.maxP90PromptTokens
          },
          data: list.map(encodeRecommendation),
          shadow_evaluations: shadow.map(encodeShadow)
        }
      }
    })

  return [
    { method: "GET", path: FORECAST_PATH, handle: forecast },
    { method: "GET", path: RECOMMENDATIONS_PATH, handle: recommendations }
  ]
}
