/**
 * Budget counters by period: which counter a budget uses now, seeding a new
 * counter from the usage table, and reading counters for the spend report.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { budgetCounterKey } from "./ApplicableLimits.js"
import { fromNanos, toNanos, type ApplicableBudget } from "./Limits.js"
import type { BudgetCheck, LimitStore, LimitStoreError } from "./LimitStore.js"
import type { PeriodClock, PeriodWindow } from "./Periods.js"
import type { SpendHistory } from "./SpendHistory.js"

/** Counters outlive their period by this long, so requests that started just before its end can still settle. */
export const COUNTER_GRACE_MS = 3_600_000

/** A budget of one request, in its current period. */
export interface BudgetEntry {
  readonly budget: ApplicableBudget
  readonly window: PeriodWindow
  readonly check: BudgetCheck
}

export interface BudgetReport {
  readonly budget: ApplicableBudget
  readonly window: PeriodWindow
  readonly spentUsd: number
  readonly reservedUsd: number
}

export const makeBudgetLedger = (options: {
  readonly store: LimitStore
  readonly history: SpendHistory
  readonly clock: PeriodClock
}) => {
  const { store, history, clock } = options

  const entryOf = (budget: ApplicableBudget, nowMs: number, estimateNanos: number): BudgetEntry => {
    const window = clock(budget.limit.period, nowMs)
    return {
      budget,
      window,
      check: {
        key: budgetCounterKey(budget, window),
        limitNanos: toNanos(budget.limit.limitUsd),
        estimateNanos,
        expiresAtMs: window.endMs + COUNTER_GRACE_MS
      }
    }
  }

  /** Starts a period's counter from the spend the usage table holds for it; an existing counter is kept. */
  const seed = (entry: BudgetEntry): Effect.Effect<void, SqlError | LimitStoreError> =>
    Effect.flatMap(history.spentUsd(entry.budget, entry.window.startMs, entry.window.endMs), (spentUsd) =>
      store.seed(entry.check.key, toNanos(spentUsd), entry.check.expiresAtMs)
    )

  /** Reads the current period of each budget, seeding counters that do not exist yet. */
  const report = (
    budgets: ReadonlyArray<ApplicableBudget>,
    nowMs: number
  ): Effect.Effect<ReadonlyArray<BudgetReport>, SqlError | LimitStoreError> =>
    Effect.gen(function* () {
      const entries = budgets.map((budget) => entryOf(budget, nowMs, 0))
      let states = yield* store.read(entries.map((entry) => entry.check.key))
      const missing = entries.filter((_, index) => states[index] === undefined)
      if (missing.length > 0) {
        yield* Effect.forEach(missing, seed, { discard: true })
        states = yield* store.read(entries.map((entry) => entry.check.key))
      }
      return entries.map((entry, index) => ({
        budget: entry.budget,
        window: entry.window,
        spentUsd: fromNanos(states[index]?.spentNanos ?? 0),
        reservedUsd: fromNanos(states[index]?.reservedNanos ?? 0)
      }))
    })

  return { entryOf, seed, report }
}

export type BudgetLedger = ReturnType<typeof makeBudgetLedger>
