/**
 * The forecaster's HTTP routes:
 *
 * - `GET /v1/fluxen/forecast?scope=<scope>&period=day|week|month`: the
 *   scope's daily history, the forecast of each remaining day of the period
 *   with 80% and 95% intervals, the period-end projection, and the outlook
 *   of each configured budget of that scope and period.
 * - `GET /v1/fluxen/forecast/budgets`: every configured budget with its
 *   spend so far and its projection, for the dashboard's budget panel.
 * - `GET /v1/fluxen/recommendations[?lookback_days=N]`: cheaper models that
 *   could likely serve each model's recent traffic, with the estimated
 *   monthly saving and any shadow evidence.
 *
 * Each route takes the admin key as a bearer token or as `?key=`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { PricingTable } from "@fluxen/analyzer"
import {
  InvalidRequestError,
  PluginError,
  type GatewayError,
  type PluginHttpRequest,
  type PluginHttpResponse,
  type PluginRoute
} from "@fluxen/sdk"
import { Cause, Clock, Effect, Either } from "effect"
import type { Forecaster, ScopeForecast } from "./Forecaster.js"
import type { ForecastBudget, RecommendationsConfig } from "./ForecasterConfig.js"
import { DAY_MS, type BudgetPeriod } from "./periods.js"
import { coveredDays, recommendModels } from "./recommend/recommendModels.js"
import type { UsageProfiles } from "./recommend/usageProfiles.js"
import { encodeBudgetStatus, encodeForecast, encodeRecommendation, encodeShadow } from "./routeEncoding.js"
import type { ShadowStore } from "./shadow/ShadowStore.js"
import { formatSpendScope, parseSpendScope } from "./SpendScope.js"

export const FORECAST_PATH = "/v1/fluxen/forecast"
export const FORECAST_BUDGETS_PATH = "/v1/fluxen/forecast/budgets"
export const RECOMMENDATIONS_PATH = "/v1/fluxen/recommendations"

const PERIODS: ReadonlyArray<string> = ["day", "week", "month"]

export interface RoutesOptions {
  readonly pluginName: string
  /** Returns the 401 response for a request without the admin key, or undefined when it may pass. */
  readonly authorize: (request: PluginHttpRequest) => PluginHttpResponse | undefined
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

  // A request without the admin key gets the 401 and never reaches the handler.
  const guarded =
    (handle: (request: PluginHttpRequest) => Effect.Effect<PluginHttpResponse, GatewayError>) =>
    (request: PluginHttpRequest): Effect.Effect<PluginHttpResponse, GatewayError> => {
      const rejection = options.authorize(request)
      return rejection === undefined ? handle(request) : Effect.succeed(rejection)
    }

  const forecast = (request: PluginHttpRequest): Effect.Effect<PluginHttpResponse, GatewayError> =>
    Effect.gen(function* () {
      const scopeText = request.query.get("scope") ?? "global"
      const scope = yield* Either.mapLeft(parseSpendScope(scopeText), (message) => invalid("scope", `${message}.`))
      const period = yield* readPeriod(request)
      const nowMs = yield* Clock.currentTimeMillis

      const result = yield* options.forecaster.forecast(scope, period, nowMs).pipe(Effect.catchAll(databaseFailure(`GET ${FORECAST_PATH}`)))
      const scopeKey = formatSpendScope(scope)
      const budgets = options.budgets.filter((budget) => budget.period === period && budget.scope === scopeKey)
      return { status: 200, body: encodeForecast(result, budgets, options.defaultAlertAt, nowMs) }
    })

  const budgetStatuses = (): Effect.Effect<PluginHttpResponse, GatewayError> =>
    Effect.gen(function* () {
      const nowMs = yield* Clock.currentTimeMillis

      // Budgets of the same scope and period share one forecast.
      const forecasts = new Map<string, ScopeForecast>()
      const data: Array<ReturnType<typeof encodeBudgetStatus>> = []
      for (const budget of options.budgets) {
        const cacheKey = `${budget.scope}|${budget.period}`
        let scopeForecast = forecasts.get(cacheKey)
        if (scopeForecast === undefined) {
          // The configuration schema has already checked every scope.
          const scope = Either.getOrThrow(parseSpendScope(budget.scope))
          scopeForecast = yield* options.forecaster
            .forecast(scope, budget.period, nowMs)
            .pipe(Effect.catchAll(databaseFailure(`GET ${FORECAST_BUDGETS_PATH}`)))
          forecasts.set(cacheKey, scopeForecast)
        }
        data.push(encodeBudgetStatus(scopeForecast, budget, options.defaultAlertAt))
      }
      return { status: 200, body: { object: "list", generated_at: new Date(nowMs).toISOString(), data } }
    })

  const recommendations = (request: PluginHttpRequest): Effect.Effect<PluginHttpResponse, GatewayError> =>
    Effect.gen(function* () {
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
    { method: "GET", path: FORECAST_PATH, handle: guarded(forecast) },
    { method: "GET", path: FORECAST_BUDGETS_PATH, handle: guarded(budgetStatuses) },
    { method: "GET", path: RECOMMENDATIONS_PATH, handle: guarded(recommendations) }
  ]
}
