import { describe, expect, it } from "vitest"
import type { FittedModel } from "./forecast/FittedModel.js"
import { Z_80, Z_95 } from "./forecast/intervals.js"
import { periodWindowAt } from "./periods.js"
import { budgetOutlook, forecastPeriod } from "./projectPeriod.js"
import type { DailySpend } from "./spendSeries.js"

// Monday 2025-03-10 at noon UTC: half of today is left, and 22 days of March remain.
const NOW = Date.parse("2025-03-10T12:00:00.000Z")

const constantModel = (perDay: number, residualStd: number | undefined): FittedModel => ({
  method: "mean",
  parameters: {},
  historyLength: 10,
  forecast: (horizon) => Array.from({ length: horizon }, () => perDay),
  errorWeight: () => 0,
  residualStd
})

const day = (date: string, costUsd: number): DailySpend => ({ date, costUsd, requests: 1, unpricedRequests: 0 })

// February's last day lies outside the period; March 1 to 9 spent 8 USD each.
const history = [day("2025-02-28", 100), ...Array.from({ length: 9 }, (_, index) => day(`2025-03-0${index + 1}`, 8))]
const today = day("2025-03-10", 3)

const monthForecast = () =>
  forecastPeriod({ model: constantModel(10, 2), history, today, nowMs: NOW, window: periodWindowAt("month", NOW) })

describe("period windows", () => {
  it("cover the UTC month, ISO week and day", () => {
    expect(periodWindowAt("month", NOW)).toEqual({
      period: "month",
      startMs: Date.parse("2025-03-01T00:00:00Z"),
      endMs: Date.parse("2025-04-01T00:00:00Z")
    })
    expect(periodWindowAt("week", Date.parse("2025-03-16T23:59:59Z"))).toEqual({
      period: "week",
      startMs: Date.parse("2025-03-10T00:00:00Z"),
      endMs: Date.parse("2025-03-17T00:00:00Z")
    })
    expect(periodWindowAt("day", NOW)).toEqual({
      period: "day",
      startMs: Date.parse("2025-03-10T00:00:00Z"),
      endMs: Date.parse("2025-03-11T00:00:00Z")
    })
  })
})

describe("forecastPeriod", () => {
  it("projects the month from spend so far and the forecast", () => {
    const { projection, points } = monthForecast()

    // Spent: 9 · 8 + 3 = 75. Expected: half of today (5) and 21 more days of 10.
    expect(projection.periodStart).toBe("2025-03-01")
    expect(projection.periodEnd).toBe("2025-03-31")
    expect(projection.spentUsd).toBeCloseTo(75, 12)
    expect(projection.projectedUsd).toBeCloseTo(290, 12)
    expect(points).toHaveLength(22)
    expect(points[21]!.date).toBe("2025-03-31")
  })

  it("widens the period total by its correlated days", () => {
    const { projection } = monthForecast()
    // Independent days (ψ = 0) with weights 0.5 and 21 × 1: σ_S = 2·√(0.25 + 21).
    const std = 2 * Math.sqrt(21.25)

    expect(projection.upper80).toBeCloseTo(290 + Z_80 * std, 9)
    expect(projection.lower80).toBeCloseTo(290 - Z_80 * std, 9)
    expect(projection.upper95).toBeCloseTo(290 + Z_95 * std, 9)
    expect(projection.lower95).toBeCloseTo(290 - Z_95 * std, 9)
  })

  it("counts today as recorded plus the rest of the day", () => {
    const [first, second] = monthForecast().points

    expect(first).toEqual({
      date: "2025-03-10",
      costUsd: 8,
      recordedUsd: 3,
      lower80: 3 + 0.5 * (10 - Z_80 * 2),
      upper80: 3 + 0.5 * (10 + Z_80 * 2),
      lower95: 3 + 0.5 * (10 - Z_95 * 2),
      upper95: 3 + 0.5 * (10 + Z_95 * 2)
    })
    expect(second!.costUsd).toBe(10)
    expect(second!.recordedUsd).toBe(0)
    expect(second!.lower95).toBeCloseTo(10 - Z_95 * 2, 12)
  })

  it("never forecasts negative spend", () => {
    const falling: FittedModel = { ...constantModel(0, 50), forecast: (horizon) => Array.from({ length: horizon }, () => -20) }
    const { points, projection } = forecastPeriod({ model: falling, history, today, nowMs: NOW, window: periodWindowAt("week", NOW) })

    expect(points.map((point) => point.costUsd)).toEqual([3, 0, 0, 0, 0, 0, 0])
    expect(projection.projectedUsd).toBe(3)
    expect(projection.lower95).toBe(3)
  })

  it("leaves intervals null without a residual", () => {
    const { points, projection } = forecastPeriod({
      model: constantModel(10, undefined),
      history,
      today,
      nowMs: NOW,
      window: periodWindowAt("day", NOW)
    })

    expect(points).toHaveLength(1)
    expect(points[0]!.lower80).toBeNull()
    expect(projection.upper95).toBeNull()
    expect(projection.projectedUsd).toBeCloseTo(8, 12)
  })
})

describe("budgetOutlook", () => {
  it("finds the expected exhaustion day", () => {
    // 80 at the end of today, then 10 a day: 200 is reached on the 12th day after today.
    expect(budgetOutlook(monthForecast(), 200)).toEqual({
      limitUsd: 200,
      projectedFraction: 290 / 200,
      status: "projected-to-exceed",
      exhaustionDate: "2025-03-22"
    })
  })

  it("reports a budget that lasts the period", () => {
    expect(budgetOutlook(monthForecast(), 300)).toMatchObject({ status: "within-budget", exhaustionDate: null })
  })

  it("dates an exceeded budget by the recorded spend", () => {
    // 8 a day reaches 50 on the 7th.
    expect(budgetOutlook(monthForecast(), 50)).toMatchObject({ status: "exceeded", exhaustionDate: "2025-03-07" })
  })

  it("dates a budget exceeded today", () => {
    expect(budgetOutlook(monthForecast(), 74)).toMatchObject({ status: "exceeded", exhaustionDate: "2025-03-10" })
  })
})
