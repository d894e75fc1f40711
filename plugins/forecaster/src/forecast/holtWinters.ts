/**
 * Holt-Winters additive method with a weekly season (7 days), in error
 * correction form:
 *
 *   ŷ[t]   = l + b + s[t-7]
 *   e      = y[t] - ŷ[t]
 *   l'     = l + b + α·e
 *   b'     = b + β·(l' - l - b)
 *   s[t]   = s[t-7] + γ·(y[t] - l' - s[t-7])
 *
 * The first two weeks set the starting state: the level and trend from the
 * two weekly means, the seasonal terms from each day's distance to the
 * trend line. α, β and γ are chosen on a grid by the smallest sum of
 * squared one-step errors from the second week on.
 */
import { rootMeanSquare, type FittedModel } from "./FittedModel.js"

export const SEASON_LENGTH = 7

export const HOLT_WINTERS_ALPHA_GRID: ReadonlyArray<number> = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
export const HOLT_WINTERS_BETA_GRID: ReadonlyArray<number> = [0.01, 0.05, 0.1, 0.2]
export const HOLT_WINTERS_GAMMA_GRID: ReadonlyArray<number> = [0.05, 0.1, 0.2, 0.3, 0.5]

interface SeasonalState {
  readonly level: number
  readonly trend: number
  /** The latest seasonal term of each position `t % 7`. */
  readonly seasonal: ReadonlyArray<number>
}

interface HoltWintersRun extends SeasonalState {
  readonly sumOfSquares: number
  readonly errorCount: number
}

const mean = (values: ReadonlyArray<number>): number => values.reduce((sum, value) => sum + value, 0) / values.length

const startingState = (series: ReadonlyArray<number>): SeasonalState => {
  const firstWeek = series.slice(0, SEASON_LENGTH)
  const secondWeek = series.slice(SEASON_LENGTH, 2 * SEASON_LENGTH)
  const firstMean = mean(firstWeek)
  const secondMean = mean(secondWeek)
  const trend = (secondMean - firstMean) / SEASON_LENGTH
  // A week's mean is the level at its middle day, so each day's distance to the trend line
  // through the two means is its seasonal term. The state is that of the first week's last day.
  const middle = (SEASON_LENGTH - 1) / 2
  const level = firstMean + middle * trend
  const seasonal = firstWeek.map((value, day) => {
    const onTrend = (day - middle) * trend
    return (value - firstMean - onTrend + (secondWeek[day]! - secondMean - onTrend)) / 2
  })
  return { level, trend, seasonal }
}

const runHoltWinters = (
  series: ReadonlyArray<number>,
  start: SeasonalState,
  alpha: number,
  beta: number,
  gamma: number
): HoltWintersRun => {
  let { level, trend } = start
  const seasonal = [...start.seasonal]
  let sumOfSquares = 0

  for (let t = SEASON_LENGTH; t < series.length; t++) {
    const position = t % SEASON_LENGTH
    const season = seasonal[position]!
    const error = series[t]! - (level + trend + season)
    sumOfSquares += error * error
    const previousLevel = level
    level = level + trend + alpha * error
    trend = trend + beta * (level - previousLevel - trend)
    seasonal[position] = season + gamma * (series[t]! - level - season)
  }
  return { level, trend, seasonal, sumOfSquares, errorCount: series.length - SEASON_LENGTH }
}

/** Fits the additive Holt-Winters method to a series of at least two full weeks. */
export const fitHoltWinters = (series: ReadonlyArray<number>): FittedModel => {
  if (series.length < 2 * SEASON_LENGTH) {
    throw new RangeError(`Holt-Winters needs at least ${2 * SEASON_LENGTH} values, got ${series.length}`)
  }

  const start = startingState(series)
  let best: (HoltWintersRun & { readonly alpha: number; readonly beta: number; readonly gamma: number }) | undefined
  for (const alpha of HOLT_WINTERS_ALPHA_GRID) {
    for (const beta of HOLT_WINTERS_BETA_GRID) {
      for (const gamma of HOLT_WINTERS_GAMMA_GRID) {
        const run = runHoltWinters(series, start, alpha, beta, gamma)
        if (best === undefined || run.sumOfSquares < best.sumOfSquares) best = { ...run, alpha, beta, gamma }
      }
    }
  }
  const { level, trend, seasonal, alpha, beta, gamma } = best!
  const last = series.length - 1

  return {
    method: "holt-winters",
    parameters: { alpha, beta, gamma },
    historyLength: series.length,
    forecast: (horizon) =>
      Array.from({ length: horizon }, (_, index) => {
        const h = index + 1
        return level + h * trend + seasonal[(last + h) % SEASON_LENGTH]!
      }),
    // The seasonal term takes γ·(1 - α) of an error, and it comes back every 7 days.
    errorWeight: (j) => alpha * (1 + j * beta) + (j % SEASON_LENGTH === 0 ? gamma * (1 - alpha) : 0),
    residualStd: rootMeanSquare(best!.sumOfSquares, best!.errorCount)
  }
}
