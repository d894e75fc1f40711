/**
 * Prediction intervals from a fitted model's one-step residual standard
 * deviation σ and its error weights ψ_j (see `FittedModel`), assuming
 * normal, independent one-step errors:
 *
 * - one day, h days ahead:  σ_h = σ · √(1 + Σ_{j=1}^{h-1} ψ_j²)
 * - a weighted sum S = Σ_{h=1}^{H} w_h · y[n+h] of the next H days:
 *   σ_S = σ · √( Σ_{k=1}^{H} (w_k + Σ_{h=k+1}^{H} w_h · ψ_{h-k})² )
 *
 * The second formula counts that one error moves every later day, so a
 * period total is wider than the days' intervals added in quadrature.
 * NOTE: the intervals leave out the uncertainty of the fitted parameters, so
 * they are too narrow on short histories.
 */
import type { FittedModel } from "./FittedModel.js"

/** Two-sided standard normal quantiles. */
export const Z_80 = 1.2815515655446004
export const Z_95 = 1.959963984540054

/** Computes σ_h, the standard deviation of the forecast error h days ahead (h ≥ 1). */
export const forecastStd = (model: FittedModel, h: number): number | undefined => {
  if (model.residualStd === undefined) return undefined
  let sumOfSquares = 1
  for (let j = 1; j < h; j++) sumOfSquares += model.errorWeight(j) ** 2
  return model.residualStd * Math.sqrt(sumOfSquares)
}

/** Computes σ_S, the standard deviation of the error of Σ weights[h-1] · y[n+h]. */
export const weightedSumStd = (model: FittedModel, weights: ReadonlyArray<number>): number | undefined => {
  if (model.residualStd === undefined) return undefined
  let variance = 0
  for (let k = 0; k < weights.length; k++) {
    let coefficient = weights[k]!
    for (let h = k + 1; h < weights.length; h++) coefficient += weights[h]! * model.errorWeight(h - k)
    variance += coefficient * coefficient
  }
  return model.residualStd * Math.sqrt(variance)
}
