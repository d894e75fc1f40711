/**
 * Forecasts of one scope's spend to the end of a budget period: reads the
 * daily series, fits the method that suits its length, and projects the
 * rest of the period.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { FittedModel } from "./forecast/FittedModel.js"
import { fitSpendModel } from "./forecast/fitSpendModel.js"
import { SEASON_LENGTH } from "./forecast/holtWinters.js"
import { DAY_MS, dayLabel, periodWindowAt, startOfUtcDay, type BudgetPeriod, type PeriodWindow } from "./periods.js"
import { forecastPeriod, type PeriodForecast } from "./projectPeriod.js"
import type { DailySpend, SpendSeriesReader } from "./spendSeries.js"
import type { SpendScope } from "./SpendScope.js"

/**
 * Complete days of history below which a forecast is preliminary: one week,
 * the shortest history that contains every weekday, so that a weekend that
 * spends less than the weekdays can show in the forecast and its errors.
 */
export const SETTLED_HISTORY_DAYS = SEASON_LENGTH

export interface ScopeForecast {
  readonly scope: SpendScope
  readonly window: PeriodWindow
  readonly model: FittedModel
  /**
   * The complete days the model was fitted on, oldest first. Days before the
   * scope's first request in the window are left out, so a scope that
   * started last week is not fitted on weeks of zeros.
   */
  readonly history: ReadonlyArray<DailySpend>
  /** Today's recorded spend so far. */
  readonly today: DailySpend
  readonly period: PeriodForecast
  /** True when `history` has fewer than {@link SETTLED_HISTORY_DAYS} days. */
  readonly preliminary: boolean
  /** True when the scope has a request in the days read: the fit range, the period so far and today. */
  readonly hasUsage: boolean
}

export interface Forecaster {
  /** Forecasts the scope's spend from `nowMs` to the end of the period that contains it. */
  readonly forecast: (scope: SpendScope, period: BudgetPeriod, nowMs: number) => Effect.Effect<ScopeForecast, SqlError>
}

export interface ForecasterOptions {
  readonly reader: SpendSeriesReader
  /** Complete days before today that the model is fitted on, at most. */
  readonly historyDays: number
}

export const makeForecaster = (options: ForecasterOptions): Forecaster => {
  const forecast = (scope: SpendScope, period: BudgetPeriod, nowMs: number) =>
    Effect.gen(function* () {
      const todayStart = startOfUtcDay(nowMs)
      const window = periodWindowAt(period, nowMs)
      const fitStart = todayStart - options.historyDays * DAY_MS

      const days = yield* options.reader.dailySpend(scope, Math.min(fitStart, window.startMs), todayStart + DAY_MS)

      const complete = days.slice(0, -1)
      const today = days[days.length - 1]!
      const fitStartLabel = dayLabel(fitStart)
      const inFitRange = complete.filter((day) => day.date >= fitStartLabel)
      const firstActive = inFitRange.findIndex((day) => day.requests > 0)
      const history = firstActive < 0 ? [] : inFitRange.slice(firstActive)
      const model = fitSpendModel(history.map((day) => day.costUsd))

      return {
        scope,
        window,
        model,
        history,
        today,
        period: forecastPeriod({ model, history: complete, today, nowMs, window }),
        preliminary: history.length < SETTLED_HISTORY_DAYS,
        hasUsage: days.some((day) => day.requests > 0)
      }
    }).pipe(Effect.withSpan("Forecaster.forecast"))

  return { forecast }
}
