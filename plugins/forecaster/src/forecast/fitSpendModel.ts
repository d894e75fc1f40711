/**
 * Chooses the forecasting method by the length of the daily history:
 *
 * - 21 days or more (three full weeks): Holt-Winters with a weekly season.
 * - 7 to 20 days: Holt's linear trend.
 * - 3 to 6 days: mean or drift, whichever had the smaller squared one-step
 *   errors from the third day on (the mean on a tie).
 * - 1 or 2 days: the mean.
 * - no day: `none`, which forecasts 0 with no interval.
 */
import { driftNext, fitDrift } from "./drift.js"
import type { FittedModel } from "./FittedModel.js"
import { fitHolt } from "./holt.js"
import { fitHoltWinters, SEASON_LENGTH } from "./holtWinters.js"
import { fitMean, meanOfLast } from "./mean.js"

export const MIN_HOLT_WINTERS_DAYS = 3 * SEASON_LENGTH
export const MIN_HOLT_DAYS = 7
const MIN_DRIFT_COMPARISON_DAYS = 3

const noHistory: FittedModel = {
  method: "none",
  parameters: {},
  historyLength: 0,
  forecast: (horizon) => Array.from({ length: horizon }, () => 0),
  errorWeight: () => 0,
  residualStd: undefined
}

const shortHistoryModel = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length < MIN_DRIFT_COMPARISON_DAYS) return fitMean(series)

  let meanSquares = 0
  let driftSquares = 0
  for (let t = 2; t < series.length; t++) {
    const history = series.slice(0, t)
    meanSquares += (series[t]! - meanOfLast(history)) ** 2
    driftSquares += (series[t]! - driftNext(history)) ** 2
  }
  return driftSquares < meanSquares ? fitDrift(series) : fitMean(series)
}

/** Fits the method that suits the length of a daily spend series, oldest day first. */
export const fitSpendModel = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length >= MIN_HOLT_WINTERS_DAYS) return fitHoltWinters(series)
  if (series.length >= MIN_HOLT_DAYS) return fitHolt(series)
  if (series.length === 0) return noHistory
  return shortHistoryModel(series)
}
