/**
 * UTC days and budget periods: calendar days, ISO weeks (Monday to Sunday)
 * and calendar months, the same windows the policy plugin counts budgets in.
 */
import { Schema } from "effect"

export const DAY_MS = 86_400_000

export const BudgetPeriod = Schema.Literal("day", "week", "month")
export type BudgetPeriod = typeof BudgetPeriod.Type

/** One period as the half-open interval `[startMs, endMs)` in epoch milliseconds. */
export interface PeriodWindow {
  readonly period: BudgetPeriod
  readonly startMs: number
  readonly endMs: number
}

/** Returns the start of the UTC day that contains `ms`. */
export const startOfUtcDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS

/** Formats the UTC day that contains `ms` as `YYYY-MM-DD`. */
export const dayLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** Returns the period of the given kind that contains `nowMs`. */
export const periodWindowAt = (period: BudgetPeriod, nowMs: number): PeriodWindow => {
  const dayStart = startOfUtcDay(nowMs)
  const now = new Date(nowMs)
  switch (period) {
    case "day":
      return { period, startMs: dayStart, endMs: dayStart + DAY_MS }
    case "week": {
      // getUTCDay() is 0 on Sunday, and ISO weeks start on Monday.
      const startMs = dayStart - ((now.getUTCDay() + 6) % 7) * DAY_MS
      return { period, startMs, endMs: startMs + 7 * DAY_MS }
    }
    case "month":
      return {
        period,
        startMs: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1),
        endMs: Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)
      }
  }
}
