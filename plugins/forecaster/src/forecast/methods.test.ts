import { describe, expect, it } from "vitest"
import { fitDrift } from "./drift.js"
import type { FittedModel } from "./FittedModel.js"
import { fitSpendModel } from "./fitSpendModel.js"
import { fitHolt } from "./holt.js"
import { fitHoltWinters } from "./holtWinters.js"
import { forecastStd, weightedSumStd } from "./intervals.js"
import { fitMean } from "./mean.js"

const linear = (length: number, start: number, slope: number) => Array.from({ length }, (_, t) => start + slope * t)

// Sums to 0, so the weekly means follow the trend exactly.
const WEEKLY_PATTERN = [6, 8, 4, 5, 1, -11, -13]
const seasonal = (length: number) => Array.from({ length }, (_, t) => 40 + 0.5 * t + WEEKLY_PATTERN[t % 7]!)

describe("Holt", () => {
  it("extends an exact line", () => {
    const model = fitHolt(linear(20, 5, 2))

    expect(model.method).toBe("holt")
    expect(model.residualStd).toBeCloseTo(0, 12)
    const forecast = model.forecast(3)
    expect(forecast[0]).toBeCloseTo(5 + 2 * 20, 9)
    expect(forecast[1]).toBeCloseTo(5 + 2 * 21, 9)
    expect(forecast[2]).toBeCloseTo(5 + 2 * 22, 9)
  })

  it("picks parameters from its grid", () => {
    const model = fitHolt([3, 5, 4, 8, 7, 9, 12, 11, 14, 13])

    expect([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]).toContain(model.parameters.alpha)
    expect([0.01, 0.05, 0.1, 0.2, 0.3, 0.5]).toContain(model.parameters.beta)
    expect(model.errorWeight(2)).toBeCloseTo(model.parameters.alpha! * (1 + 2 * model.parameters.beta!), 12)
  })

  it("rejects a single value", () => {
    expect(() => fitHolt([1])).toThrow(RangeError)
  })
})

describe("Holt-Winters", () => {
  it("extends an exact trend with a weekly season", () => {
    const series = seasonal(28)
    const model = fitHoltWinters(series)

    expect(model.method).toBe("holt-winters")
    expect(model.residualStd).toBeCloseTo(0, 9)
    const expected = seasonal(28 + 10).slice(28)
    const forecast = model.forecast(10)
    for (let h = 0; h < 10; h++) expect(forecast[h]).toBeCloseTo(expected[h]!, 9)
  })

  it("weights the seasonal term every 7 days", () => {
    const model = fitHoltWinters(seasonal(21).map((value, t) => value + (t % 3) - 1))
    const { alpha, beta, gamma } = model.parameters as { alpha: number; beta: number; gamma: number }

    expect(model.errorWeight(6)).toBeCloseTo(alpha * (1 + 6 * beta), 12)
    expect(model.errorWeight(7)).toBeCloseTo(alpha * (1 + 7 * beta) + gamma * (1 - alpha), 12)
  })

  it("rejects less than two weeks", () => {
    expect(() => fitHoltWinters(seasonal(13))).toThrow(RangeError)
  })
})

describe("short history methods", () => {
  it("mean forecasts the mean of the last week", () => {
    const model = fitMean([1, 2, 3, 4, 5, 6, 7, 8, 9])

    expect(model.forecast(2)).toEqual([6, 6])
    expect(model.parameters.window).toBe(7)
    expect(model.errorWeight(1)).toBe(0)
  })

  it("mean has one-step errors of the running mean", () => {
    // Predictions 2, then (2 + 4) / 2 = 3: errors 2 and 3.
    const model = fitMean([2, 4, 6])

    expect(model.residualStd).toBeCloseTo(Math.sqrt((2 * 2 + 3 * 3) / 2), 12)
  })

  it("mean has no interval from one value", () => {
    expect(fitMean([5]).residualStd).toBeUndefined()
  })

  it("drift extends the first-to-last slope", () => {
    const model = fitDrift([10, 12, 15, 16])

    expect(model.parameters.slope).toBe(2)
    expect(model.forecast(3)).toEqual([18, 20, 22])
    expect(model.errorWeight(5)).toBe(1)
  })
})

describe("method choice", () => {
  it.each([
    { days: 0, method: "none" },
    { days: 1, method: "mean" },
    { days: 2, method: "mean" },
    { days: 7, method: "holt" },
    { days: 20, method: "holt" },
    { days: 21, method: "holt-winters" },
    { days: 60, method: "holt-winters" }
  ])("uses $method for $days days", ({ days, method }) => {
    expect(fitSpendModel(seasonal(days)).method).toBe(method)
  })

  it("prefers drift on a steady rise", () => {
    expect(fitSpendModel([10, 20, 30, 40, 50]).method).toBe("drift")
  })

  it("prefers the mean on a flat, noisy series", () => {
    expect(fitSpendModel([10, 12, 9, 11, 10, 12]).method).toBe("mean")
  })

  it("forecasts 0 without history", () => {
    const model = fitSpendModel([])

    expect(model.forecast(2)).toEqual([0, 0])
    expect(model.residualStd).toBeUndefined()
  })
})

describe("intervals", () => {
  const model: FittedModel = {
    method: "holt",
    parameters: {},
    historyLength: 10,
    forecast: (horizon) => Array.from({ length: horizon }, () => 0),
    errorWeight: () => 0.5,
    residualStd: 2
  }

  it("grow with the horizon", () => {
    expect(forecastStd(model, 1)).toBeCloseTo(2, 12)
    // σ·√(1 + ψ₁² + ψ₂²) = 2·√1.5
    expect(forecastStd(model, 3)).toBeCloseTo(2 * Math.sqrt(1.5), 12)
  })

  it("correlate the days of a sum", () => {
    // Coefficients of e₁, e₂, e₃: 0.5 + 1·0.5 + 1·0.5 = 1.5, then 1 + 1·0.5 = 1.5, then 1.
    expect(weightedSumStd(model, [0.5, 1, 1])).toBeCloseTo(2 * Math.sqrt(1.5 ** 2 + 1.5 ** 2 + 1), 12)
  })

  it("add independent days in quadrature", () => {
    expect(weightedSumStd({ ...model, errorWeight: () => 0 }, [1, 1, 1, 1])).toBeCloseTo(4, 12)
  })

  it("are absent without a residual", () => {
    expect(forecastStd({ ...model, residualStd: undefined }, 2)).toBeUndefined()
    expect(weightedSumStd({ ...model, residualStd: undefined }, [1])).toBeUndefined()
  })
})
