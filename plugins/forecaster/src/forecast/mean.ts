/**
 * The mean method for short histories: every future day is forecast as the
 * mean of the last days (up to a week).
 */
import { rootMeanSquare, type FittedModel } from "./FittedModel.js"

export const MEAN_WINDOW_DAYS = 7

/** Computes the mean of the last `window` values of a non-empty history. */
export const meanOfLast = (history: ReadonlyArray<number>, window: number = MEAN_WINDOW_DAYS): number => {
  const recent = history.slice(-window)
  return recent.reduce((sum, value) => sum + value, 0) / recent.length
}

/** Fits the mean method to a non-empty series. */
export const fitMean = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length < 1) throw new RangeError("The mean method needs at least 1 value, got 0")

  let sumOfSquares = 0
  for (let t = 1; t < series.length; t++) {
    const error = series[t]! - meanOfLast(series.slice(0, t))
    sumOfSquares += error * error
  }
  const level = meanOfLast(series)
  const window = Math.min(series.length, MEAN_WINDOW_DAYS)

  return {
    method: "mean",
    parameters: { window },
    historyLength: series.length,
    forecast: (horizon) => Array.from({ length: horizon }, () => level),
    // Days scatter independently around the mean, so an error does not carry over.
    errorWeight: () => 0,
    residualStd: rootMeanSquare(sumOfSquares, series.length - 1)
  }
}
