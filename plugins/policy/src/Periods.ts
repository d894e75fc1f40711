/**
 * Budget periods: calendar days, ISO weeks (Monday to Sunday) and calendar
 * months, all in UTC.
 */
import { Schema } from "effect"

const periods = ["day", "week", "month"] as const

const quotedPeriods = `${periods.slice(0, -1).map((period) => `"${period}"`).join(", ")} or "${periods[periods.length - 1]}"`

// The message replaces the one per literal, because the admin API reports only the first
// issue, and that named "day" alone.
export const BudgetPeriod = Schema.Literal(...periods).annotations({
  message: (issue) => ({ message: `Expected ${quotedPeriods}, actual ${JSON.stringify(issue.actual)}`, override: true })
})
export type BudgetPeriod = typeof BudgetPeriod.Type

/** The adjective of each period, for messages ("the daily budget"). */
export const periodAdjective: Readonly<Record<BudgetPeriod, string>> = { day: "daily", week: "weekly", month: "monthly" }

/** One period of a budget, as half-open interval `[startMs, endMs)` in epoch milliseconds. */
export interface PeriodWindow {
  readonly period: BudgetPeriod
  readonly startMs: number
  readonly endMs: number
  /** The start date as `YYYY-MM-DD`, used in counter keys. */
  readonly label: string
}

const DAY_MS = 86_400_000

const windowAt = (period: BudgetPeriod, nowMs: number): PeriodWindow => {
  const now = new Date(nowMs)
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())
  let startMs: number
  let endMs: number
  switch (period) {
    case "day":
      startMs = dayStart
      endMs = dayStart + DAY_MS
      break
    case "week": {
      // getUTCDay() is 0 on Sunday; ISO weeks start on Monday.
      const daysSinceMonday = (now.getUTCDay() + 6) % 7
      startMs = dayStart - daysSinceMonday * DAY_MS
      endMs = startMs + 7 * DAY_MS
      break
    }
    case "month":
      startMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)
      endMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)
      break
  }
  return { period, startMs, endMs, label: new Date(startMs).toISOString().slice(0, 10) }
}

/**
 * Returns the period that contains `nowMs`. The last window of each kind is
 * kept, so the dates are computed again only when a period ends.
 */
export const makePeriodClock = () => {
  const latest = new Map<BudgetPeriod, PeriodWindow>()
  return (period: BudgetPeriod, nowMs: number): PeriodWindow => {
    const cached = latest.get(period)
    if (cached !== undefined && nowMs >= cached.startMs && nowMs < cached.endMs) return cached
    const window = windowAt(period, nowMs)
    latest.set(period, window)
    return window
  }
}

export type PeriodClock = ReturnType<typeof makePeriodClock>
