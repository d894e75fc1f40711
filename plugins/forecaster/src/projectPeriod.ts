/**
 * The projection of a budget period from a fitted model: the expected spend
 * of each remaining day, the period total with its intervals, and the day a
 * budget runs out at the current pace.
 *
 * Today is counted as partly spent: its recorded spend so far plus the
 * model's forecast for the whole day times the fraction of the day that is
 * left, which assumes spend is spread evenly over the hours of a day.
 */
import type { FittedModel } from "./forecast/FittedModel.js"
import { forecastStd, weightedSumStd, Z_80, Z_95 } from "./forecast/intervals.js"
import { DAY_MS, dayLabel, startOfUtcDay, type PeriodWindow } from "./periods.js"
import type { DailySpend } from "./spendSeries.js"

/** A range in USD; both ends are null when the history is too short to estimate the error. */
export interface IntervalBounds {
  readonly lower80: number | null
  readonly upper80: number | null
  readonly lower95: number | null
  readonly upper95: number | null
}

export interface ForecastPoint extends IntervalBounds {
  /** The UTC day as `YYYY-MM-DD`. */
  readonly date: string
  /** Expected spend of the whole day in USD: for today, the recorded spend plus the expected rest. */
  readonly costUsd: number
  /** Spend already recorded on that day (only today has any). */
  readonly recordedUsd: number
}

export interface PeriodProjection extends IntervalBounds {
  /** First day of the period, `YYYY-MM-DD`. */
  readonly periodStart: string
  /** Last day of the period, `YYYY-MM-DD` (inclusive). */
  readonly periodEnd: string
  /** Spend recorded in the period so far, in USD. */
  readonly spentUsd: number
  /** Expected spend of the whole period, in USD. */
  readonly projectedUsd: number
}

export type BudgetStatus = "exceeded" | "projected-to-exceed" | "within-budget"

export interface BudgetOutlook {
  readonly limitUsd: number
  /** `projectedUsd / limitUsd`. */
  readonly projectedFraction: number
  readonly status: BudgetStatus
  /**
   * The day the spend reaches the limit: the recorded day for `exceeded`,
   * the expected day for `projected-to-exceed`, null for `within-budget`.
   */
  readonly exhaustionDate: string | null
}

export interface PeriodForecast {
  readonly points: ReadonlyArray<ForecastPoint>
  readonly projection: PeriodProjection
  /** Expected spend since the period start at the end of each remaining day, for `budgetOutlook`. */
  readonly cumulativeUsd: ReadonlyArray<number>
  /** Recorded days of the period before today, oldest first. */
  readonly recordedDays: ReadonlyArray<DailySpend>
}

export interface PeriodForecastInput {
  readonly model: FittedModel
  /** Complete days before today, oldest first; those inside the period count as spent. */
  readonly history: ReadonlyArray<DailySpend>
  /** Today's recorded spend so far. */
  readonly today: DailySpend
  readonly nowMs: number
  readonly window: PeriodWindow
}

const bounds = (base: number, scale: number, center: number, std: number | undefined, floor: number): IntervalBounds => {
  if (std === undefined) return { lower80: null, upper80: null, lower95: null, upper95: null }
  return {
    lower80: Math.max(floor, base + scale * (center - Z_80 * std)),
    upper80: base + scale * (center + Z_80 * std),
    lower95: Math.max(floor, base + scale * (center - Z_95 * std)),
    upper95: base + scale * (center + Z_95 * std)
  }
}

/** Forecasts the rest of the period that contains `nowMs`, from today to the period's last day. */
export const forecastPeriod = (input: PeriodForecastInput): PeriodForecast => {
  const { model, window, nowMs, today } = input
  const todayStart = startOfUtcDay(nowMs)
  const remainingDays = Math.round((window.endMs - todayStart) / DAY_MS)
  const restOfToday = (todayStart + DAY_MS - nowMs) / DAY_MS

  const recordedDays = input.history.filter((day) => day.date >= dayLabel(window.startMs))
  const spentUsd = recordedDays.reduce((sum, day) => sum + day.costUsd, 0) + today.costUsd

  // Spend cannot be negative, so a falling trend stops at 0.
  const expected = model.forecast(remainingDays).map((value) => Math.max(0, value))
  const weights = expected.map((_, index) => (index === 0 ? restOfToday : 1))

  const points: Array<ForecastPoint> = []
  const cumulativeUsd: Array<number> = []
  let cumulative = spentUsd
  for (let index = 0; index < remainingDays; index++) {
    const isToday = index === 0
    const recordedUsd = isToday ? today.costUsd : 0
    const weight = weights[index]!
    const point = expected[index]!
    cumulative += weight * point
    cumulativeUsd.push(cumulative)
    points.push({
      date: dayLabel(todayStart + index * DAY_MS),
      costUsd: recordedUsd + weight * point,
      recordedUsd,
      ...bounds(recordedUsd, weight, point, forecastStd(model, index + 1), recordedUsd)
    })
  }

  const projectedUsd = cumulative
  const projection: PeriodProjection = {
    periodStart: dayLabel(window.startMs),
    periodEnd: dayLabel(window.endMs - DAY_MS),
    spentUsd,
    projectedUsd,
    ...bounds(0, 1, projectedUsd, weightedSumStd(model, weights), spentUsd)
  }
  return { points, projection, cumulativeUsd, recordedDays }
}

/** Tells when a period's spend reaches `limitUsd`: already, on an expected day, or not in this period. */
export const budgetOutlook = (forecast: PeriodForecast, limitUsd: number): BudgetOutlook => {
  const { projection } = forecast
  const projectedFraction = projection.projectedUsd / limitUsd

  if (projection.spentUsd >= limitUsd) {
    // Crossed on a recorded day before today, or else today.
    let cumulative = 0
    let exhaustionDate: string | null = forecast.points[0]?.date ?? null
    for (const day of forecast.recordedDays) {
      cumulative += day.costUsd
      if (cumulative >= limitUsd) {
        exhaustionDate = day.date
        break
      }
    }
    return { limitUsd, projectedFraction, status: "exceeded", exhaustionDate }
  }

  const crossing = forecast.cumulativeUsd.findIndex((cumulative) => cumulative >= limitUsd)
  if (crossing < 0) return { limitUsd, projectedFraction, status: "within-budget", exhaustionDate: null }
  return { limitUsd, projectedFraction, status: "projected-to-exceed", exhaustionDate: forecast.points[crossing]!.date }
}
