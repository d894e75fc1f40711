/**
 * The JSON bodies of the forecaster's routes, with snake_case keys like the
 * gateway's control routes.
 */
import { SETTLED_HISTORY_DAYS, type ScopeForecast } from "./Forecaster.js"
import type { ForecastBudget } from "./ForecasterConfig.js"
import { budgetOutlook, type IntervalBounds } from "./projectPeriod.js"
import type { Recommendation } from "./recommend/recommendModels.js"
import type { ShadowSummary } from "./shadow/ShadowStore.js"
import type { DailySpend } from "./spendSeries.js"
import { formatSpendScope } from "./SpendScope.js"

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

const completeDays = (count: number): string => `${count} complete ${count === 1 ? "day" : "days"}`

/** Explains, in sentences for a reader, what limits the forecast: no usage, no interval, or a short history. */
const forecastNotes = (forecast: ScopeForecast): Array<string> => {
  const scope = formatSpendScope(forecast.scope)
  const notes: Array<string> = []
  if (!forecast.hasUsage) {
    notes.push(
      `No request of scope ${scope} is recorded in the history read or this period. ` +
        "Check that the scope is spelled as the usage records it."
    )
  }
  if (forecast.period.projection.lower80 === null) {
    notes.push(`The history of ${completeDays(forecast.history.length)} is too short to estimate an interval.`)
  }
  if (forecast.preliminary) {
    notes.push(
      `The forecast is preliminary: it rests on ${completeDays(forecast.history.length)}, fewer than ${SETTLED_HISTORY_DAYS}, ` +
        "and its interval leaves out that weekdays and weekends may differ."
    )
  }
  return notes
}

const encodeBudgetOutlook = (forecast: ScopeForecast, budget: ForecastBudget, defaultAlertAt: ReadonlyArray<number>) => {
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
}

export const encodeForecast = (forecast: ScopeForecast, budgets: ReadonlyArray<ForecastBudget>, defaultAlertAt: ReadonlyArray<number>, nowMs: number) => {
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
    history_days: forecast.history.length,
    preliminary: forecast.preliminary,
    notes: forecastNotes(forecast),
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
    budgets: budgets.map((budget) => encodeBudgetOutlook(forecast, budget, defaultAlertAt))
  }
}

/**
 * Encodes one budget with each figure a reader needs without the whole
 * forecast: the spend so far, the projection and the method and history
 * behind it.
 */
export const encodeBudgetStatus = (forecast: ScopeForecast, budget: ForecastBudget, defaultAlertAt: ReadonlyArray<number>) => {
  const { projection } = forecast.period
  return {
    ...encodeBudgetOutlook(forecast, budget, defaultAlertAt),
    period_start: projection.periodStart,
    period_end: projection.periodEnd,
    spent_usd: projection.spentUsd,
    projected_usd: projection.projectedUsd,
    method: forecast.model.method,
    history_days: forecast.history.length,
    preliminary: forecast.preliminary
  }
}

export const encodeShadow = (summary: ShadowSummary) => ({
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

export const encodeRecommendation = (recommendation: Recommendation) => ({
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
