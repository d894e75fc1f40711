/**
 * The drift method for short histories: the last value plus the average
 * daily change between the first and the last value, per day ahead.
 */
import { rootMeanSquare, type FittedModel } from "./FittedModel.js"

/** Computes the drift forecast one day ahead of a history of at least 2 values. */
export const driftNext = (history: ReadonlyArray<number>): number => {
  const last = history[history.length - 1]!
  return last + (last - history[0]!) / (history.length - 1)
}

/** Fits the drift method to a series of at least 2 values. */
export const fitDrift = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length < 2) throw new RangeError(`The drift method needs at least 2 values, got ${series.length}`)

  let sumOfSquares = 0
  for (let t = 2; t < series.length; t++) {
    const error = series[t]! - driftNext(series.slice(0, t))
    sumOfSquares += error * error
  }
  const last = series[series.length - 1]!
  const slope = (last - series[0]!) / (series.length - 1)

  return {
    method: "drift",
    parameters: { slope },
    historyLength: series.length,
    forecast: (horizon) => Array.from({ length: horizon }, (_, index) => last + (index + 1) * slope),
    // A random walk with drift: every error stays in all later values.
    errorWeight: () => 1,
    residualStd: rootMeanSquare(sumOfSquares, series.length - 2)
  }
}
