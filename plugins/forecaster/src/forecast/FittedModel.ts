/**
 * The shape every forecasting method returns, so that intervals and period
 * projections work the same whichever method was fitted.
 */

/** The forecasting methods, from the richest to the simplest. `none` means there was no history to fit. */
export type ForecastMethod = "holt-winters" | "holt" | "drift" | "mean" | "none"

/**
 * A model fitted to a daily series. Its forecast errors follow the linear
 * innovations form
 *
 *   y[n+h] = ŷ[n+h] + e[n+h] + Σ_{j=1}^{h-1} ψ_j · e[n+h-j]
 *
 * where the one-step errors e are independent, with mean 0 and standard
 * deviation `residualStd`. `intervals.ts` derives every interval from
 * `residualStd` and the weights ψ_j.
 */
export interface FittedModel {
  readonly method: ForecastMethod
  /** The smoothing parameters the grid search chose (`alpha`, `beta`, `gamma`), or the window of `mean`. */
  readonly parameters: Readonly<Record<string, number>>
  /** Number of days the model was fitted on. */
  readonly historyLength: number
  /** Point forecasts for the next `horizon` days, the first day first. Not floored at 0. */
  readonly forecast: (horizon: number) => ReadonlyArray<number>
  /** ψ_j, the share of a one-step error that is still in the forecast error j days later (j ≥ 1). */
  readonly errorWeight: (j: number) => number
  /** Root mean square of the one-step-ahead errors on the history; undefined with fewer than 2 errors. */
  readonly residualStd: number | undefined
}

/** Computes the root mean square of errors, or undefined when there are fewer than 2 of them. */
export const rootMeanSquare = (sumOfSquares: number, count: number): number | undefined =>
  count < 2 ? undefined : Math.sqrt(sumOfSquares / count)
