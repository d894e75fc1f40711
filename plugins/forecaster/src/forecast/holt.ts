/**
 * Holt's linear trend method (double exponential smoothing), in error
 * correction form:
 *
 *   ŷ[t]  = l + b                     (one step ahead)
 *   e     = y[t] - ŷ[t]
 *   l'    = l + b + α·e
 *   b'    = b + β·(l' - l - b)
 *
 * α and β are chosen on a grid by the smallest sum of squared one-step
 * errors over the history.
 */
import { rootMeanSquare, type FittedModel } from "./FittedModel.js"

export const HOLT_ALPHA_GRID: ReadonlyArray<number> = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]
export const HOLT_BETA_GRID: ReadonlyArray<number> = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5]

// The initial trend is the average daily change over the first week (or the
// whole history when shorter), so one unusual second day does not set it.
const TREND_START_DAYS = 7

interface HoltRun {
  readonly level: number
  readonly trend: number
  readonly sumOfSquares: number
  readonly errorCount: number
}

const runHolt = (series: ReadonlyArray<number>, alpha: number, beta: number): HoltRun => {
  const span = Math.min(TREND_START_DAYS, series.length - 1)
  let level = series[0]!
  let trend = (series[span]! - series[0]!) / span
  let sumOfSquares = 0

  for (let t = 1; t < series.length; t++) {
    const predicted = level + trend
    const error = series[t]! - predicted
    sumOfSquares += error * error
    const previousLevel = level
    level = predicted + alpha * error
    trend = trend + beta * (level - previousLevel - trend)
  }
  return { level, trend, sumOfSquares, errorCount: series.length - 1 }
}

/** Fits Holt's method to a series of at least 2 values. */
export const fitHolt = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length < 2) throw new RangeError(`Holt's method needs at least 2 values, got ${series.length}`)

  let best: (HoltRun & { readonly alpha: number; readonly beta: number }) | undefined
  for (const alpha of HOLT_ALPHA_GRID) {
    for (const beta of HOLT_BETA_GRID) {
      const run = runHolt(series, alpha, beta)
      if (best === undefined || run.sumOfSquares < best.sumOfSquares) best = { ...run, alpha, beta }
    }
  }
  const { level, trend, alpha, beta } = best!

  return {
    method: "holt",
    parameters: { alpha, beta },
    historyLength: series.length,
    forecast: (horizon) => Array.from({ length: horizon }, (_, index) => level + (index + 1) * trend),
    errorWeight: (j) => alpha * (1 + j * beta),
    residualStd: rootMeanSquare(best!.sumOfSquares, best!.errorCount)
  }
}
