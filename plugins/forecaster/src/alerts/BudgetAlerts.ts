/**
 * Forecast alerts: when a budget's projected period spend reaches one of
 * its `alertAt` fractions of the limit, a warning is logged and, with a
 * `webhookUrl`, a JSON POST is sent. Each budget, period and threshold
 * alerts at most once (see `AlertLog`). When the webhook fails, the claim
 * is released and the next check tries again, so the warning is then
 * logged again too. A gateway that stops between the claim and the POST
 * loses that alert.
 *
 * A forecast fitted on fewer than `minHistoryDays` complete days does not
 * alert on its projection. Its budgets alert only once the recorded spend
 * itself reaches a threshold, because a projection from one or two days
 * repeats those days' weekday pattern over the whole period.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { HttpTransportService } from "@fluxen/sdk"
import { Effect, Either } from "effect"
import type { Forecaster, ScopeForecast } from "../Forecaster.js"
import type { ForecastBudget } from "../ForecasterConfig.js"
import { budgetOutlook, type BudgetOutlook } from "../projectPeriod.js"
import { postJson } from "../postJson.js"
import { parseSpendScope } from "../SpendScope.js"
import type { AlertLog } from "./AlertLog.js"

const WEBHOOK_TIMEOUT_MS = 10_000

/** The projection compared with a budget's thresholds. */
export type AlertBasis = "expected" | "upper80" | "upper95"

/** The amount an alert compared: the configured projection, or the recorded spend when the history was too short. */
export type ComparedAmount = AlertBasis | "spent"

export interface BudgetAlertsOptions {
  readonly pluginName: string
  readonly budgets: ReadonlyArray<ForecastBudget>
  /** Thresholds of budgets that set no `alertAt`. */
  readonly defaultAlertAt: ReadonlyArray<number>
  readonly alertOn: AlertBasis
  /** Complete days of history below which only the recorded spend can alert. */
  readonly minHistoryDays: number
  readonly webhookUrl: string | undefined
  readonly forecaster: Forecaster
  readonly alertLog: AlertLog
  readonly transport: HttpTransportService
}

export interface BudgetAlert {
  readonly budget: ForecastBudget
  readonly threshold: number
  readonly forecast: ScopeForecast
  readonly outlook: BudgetOutlook
  /** The amount compared with the threshold, in USD. */
  readonly comparedUsd: number
  readonly compared: ComparedAmount
  readonly checkedAtMs: number
}

export interface BudgetAlerts {
  /** Checks every budget once at `nowMs` and returns the alerts this check sent. */
  readonly check: (nowMs: number) => Effect.Effect<ReadonlyArray<BudgetAlert>, SqlError>
}

/** Identifies a budget in the alerts table; a changed limit is a new budget and may alert again. */
export const budgetId = (budget: ForecastBudget): string => `${budget.scope}/${budget.period}/${budget.limitUsd}`

/**
 * Picks the projection to compare. Without an interval (a history shorter
 * than 3 days), the upper bounds fall back to the expected spend.
 */
const comparedProjection = (forecast: ScopeForecast, basis: AlertBasis): number => {
  const projection = forecast.period.projection
  switch (basis) {
    case "expected":
      return projection.projectedUsd
    case "upper80":
      return projection.upper80 ?? projection.projectedUsd
    case "upper95":
      return projection.upper95 ?? projection.projectedUsd
  }
}

/** Builds the webhook's JSON body. `alert_on` is the configured basis and `compared` what this alert compared. */
export const webhookPayload = (alert: BudgetAlert, basis: AlertBasis) => {
  const projection = alert.forecast.period.projection
  return {
    type: "fluxen.forecast.budget_alert",
    budget: { scope: alert.budget.scope, period: alert.budget.period, limit_usd: alert.budget.limitUsd },
    threshold: alert.threshold,
    alert_on: basis,
    compared: alert.compared,
    compared_usd: alert.comparedUsd,
    period_start: projection.periodStart,
    period_end: projection.periodEnd,
    spent_usd: projection.spentUsd,
    projected_usd: projection.projectedUsd,
    interval_80: { lower: projection.lower80, upper: projection.upper80 },
    interval_95: { lower: projection.lower95, upper: projection.upper95 },
    status: alert.outlook.status,
    exhaustion_date: alert.outlook.exhaustionDate,
    method: alert.forecast.model.method,
    history_days: alert.forecast.history.length,
    preliminary: alert.forecast.preliminary,
    checked_at: new Date(alert.checkedAtMs).toISOString()
  }
}

const smallAmount = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3, useGrouping: false })

/** Formats an amount in USD: cents from 1 USD up, and three significant digits below, so a small budget does not read 0.00. */
export const formatUsd = (usd: number): string => (Math.abs(usd) >= 1 || usd === 0 ? usd.toFixed(2) : smallAmount.format(usd))

export const makeBudgetAlerts = (options: BudgetAlertsOptions): BudgetAlerts => {
  // The configuration schema has already checked every scope.
  const scopes = new Map(options.budgets.map((budget) => [budget.scope, Either.getOrThrow(parseSpendScope(budget.scope))]))

  const logAlert = (alert: BudgetAlert) => {
    const projection = alert.forecast.period.projection
    const share = `${Math.round((alert.comparedUsd / alert.budget.limitUsd) * 100)}% of its ${formatUsd(alert.budget.limitUsd)} USD budget`
    const historyDays = alert.forecast.history.length
    const days = `${historyDays} complete ${historyDays === 1 ? "day" : "days"}`
    const method = `${alert.forecast.preliminary ? "preliminary " : ""}${alert.forecast.model.method} forecast`
    const message =
      alert.compared === "spent"
        ? `The ${alert.budget.period} spend of ${alert.budget.scope} has reached ${formatUsd(alert.comparedUsd)} USD, ${share} ` +
          `(alert threshold ${alert.threshold}). Its projection does not alert, because the ${method} rests on ${days}, ` +
          `fewer than ${options.minHistoryDays}.`
        : `The ${alert.budget.period} spend of ${alert.budget.scope} is projected to reach ${formatUsd(alert.comparedUsd)} USD ` +
          `by ${projection.periodEnd}, ${share} (alert threshold ${alert.threshold}, ${method} on ${days}).`
    return Effect.logWarning(message).pipe(
      Effect.annotateLogs({
        plugin: options.pluginName,
        "budget.scope": alert.budget.scope,
        "budget.period": alert.budget.period,
        "budget.period_start": projection.periodStart,
        "budget.limit_usd": alert.budget.limitUsd,
        "budget.spent_usd": projection.spentUsd,
        "forecast.projected_usd": projection.projectedUsd,
        "forecast.method": alert.forecast.model.method,
        "forecast.history_days": alert.forecast.history.length,
        "forecast.exhaustion_date": alert.outlook.exhaustionDate ?? "none"
      })
    )
  }

  // Fails when the webhook could not be reached or responded with a status other than 2xx.
  const deliver = (alert: BudgetAlert, url: string) =>
    postJson(options.transport, {
      target: "forecast webhook",
      url,
      body: webhookPayload(alert, options.alertOn),
      timeoutMs: WEBHOOK_TIMEOUT_MS
    }).pipe(
      Effect.flatMap((response) =>
        response.status >= 200 && response.status < 300
          ? Effect.void
          : Effect.fail(`the forecast webhook responded with HTTP ${response.status}`)
      ),
      Effect.mapError((error) => (typeof error === "string" ? error : error.message))
    )

  const alertOnce = (alert: BudgetAlert) =>
    Effect.gen(function* () {
      const key = { budgetId: budgetId(alert.budget), periodStart: alert.forecast.period.projection.periodStart, threshold: alert.threshold }
      const claimed = yield* options.alertLog.claim(key, {
        projectedUsd: alert.comparedUsd,
        limitUsd: alert.budget.limitUsd,
        sentAtMs: alert.checkedAtMs
      })
      if (!claimed) return false

      yield* logAlert(alert)
      if (options.webhookUrl === undefined) return true

      const delivered = yield* Effect.either(deliver(alert, options.webhookUrl))
      if (Either.isRight(delivered)) return true
      yield* Effect.logError("Sending the forecast alert failed. The next check sends it again.").pipe(
        Effect.annotateLogs({ plugin: options.pluginName, "budget.scope": alert.budget.scope, error: delivered.left })
      )
      yield* options.alertLog.release(key)
      return false
    })

  const check = (nowMs: number) =>
    Effect.gen(function* () {
      // Budgets of the same scope and period share one forecast.
      const forecasts = new Map<string, ScopeForecast>()
      const sent: Array<BudgetAlert> = []

      for (const budget of options.budgets) {
        const cacheKey = `${budget.scope}|${budget.period}`
        let forecast = forecasts.get(cacheKey)
        if (forecast === undefined) {
          forecast = yield* options.forecaster.forecast(scopes.get(budget.scope)!, budget.period, nowMs)
          forecasts.set(cacheKey, forecast)
        }

        const outlook = budgetOutlook(forecast.period, budget.limitUsd)
        const projectionMayAlert = forecast.history.length >= options.minHistoryDays
        const compared: ComparedAmount = projectionMayAlert ? options.alertOn : "spent"
        const comparedUsd = projectionMayAlert ? comparedProjection(forecast, options.alertOn) : forecast.period.projection.spentUsd
        const thresholds = [...(budget.alertAt ?? options.defaultAlertAt)].sort((a, b) => a - b)
        for (const threshold of thresholds) {
          if (comparedUsd < threshold * budget.limitUsd) break
          const alert: BudgetAlert = { budget, threshold, forecast, outlook, comparedUsd, compared, checkedAtMs: nowMs }
          if (yield* alertOnce(alert)) sent.push(alert)
        }
      }
      return sent
    }).pipe(Effect.withSpan("BudgetAlerts.check"))

  return { check }
}
