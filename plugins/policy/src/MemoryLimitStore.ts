/**
 * Budget and rate limit counters in this process, for a single Fluxen
 * instance. Every operation is synchronous, so the store never makes
 * admission wait.
 */
import { Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import {
  gcraCorrect,
  gcraStep,
  type AdmitRequest,
  type AdmitResult,
  type BudgetState,
  type CrossedThreshold,
  type LimitStore,
  type RateState,
  type SettleRequest
} from "./LimitStore.js"

interface BudgetCounter {
  /** Undefined until seeded from the usage table. */
  spentNanos: number | undefined
  reservedNanos: number
  expiresAtMs: number
  /** Warning fractions already reported in this period. */
  readonly warned: Set<number>
}

const SWEEP_INTERVAL = Duration.minutes(1)

export interface MemoryLimitStore extends LimitStore {
  /** Deletes counters whose period ended and rate limits back at full allowance. */
  readonly sweep: (nowMs: number) => void
  /** Number of counters held, for tests. */
  readonly size: () => number
}

/** Creates a store without the background sweep; {@link makeMemoryLimitStore} adds it. */
export const makeMemoryCounters = (now: () => number = Date.now): MemoryLimitStore => {
  const budgets = new Map<string, BudgetCounter>()
  const tats = new Map<string, number>()

  const counterOf = (key: string, expiresAtMs: number): BudgetCounter => {
    let counter = budgets.get(key)
    if (counter === undefined) {
      counter = { spentNanos: undefined, reservedNanos: 0, expiresAtMs, warned: new Set() }
      budgets.set(key, counter)
    }
    return counter
  }

  const admitNow = (request: AdmitRequest): AdmitResult => {
    const unseeded: Array<number> = []
    for (const [index, check] of request.budgets.entries()) {
      if (budgets.get(check.key)?.spentNanos === undefined) unseeded.push(index)
    }
    if (unseeded.length > 0) return { _tag: "Unseeded", budgets: unseeded }

    for (const [index, check] of request.budgets.entries()) {
      const counter = budgets.get(check.key)!
      if (counter.spentNanos! + counter.reservedNanos + check.estimateNanos > check.limitNanos) {
        return { _tag: "OverBudget", budget: index, spentNanos: counter.spentNanos!, reservedNanos: counter.reservedNanos }
      }
    }

    const nowMs = now()
    const newTats: Array<number> = []
    const states: Array<RateState> = []
    for (const [index, check] of request.rates.entries()) {
      const step = gcraStep(tats.get(check.key), nowMs, check.perMinute, check.cost)
      if (!step.allowed) return { _tag: "RateLimited", rate: index, retryAfterMs: step.retryAfterMs }
      newTats.push(step.tat)
      states.push(step.state)
    }

    for (const [index, check] of request.rates.entries()) tats.set(check.key, newTats[index]!)
    for (const check of request.budgets) budgets.get(check.key)!.reservedNanos += check.estimateNanos
    return { _tag: "Admitted", rates: states }
  }

  const settleNow = (request: SettleRequest): ReadonlyArray<CrossedThreshold> => {
    const crossed: Array<CrossedThreshold> = []
    for (const [index, entry] of request.budgets.entries()) {
      const counter = budgets.get(entry.key)
      if (counter === undefined) continue
      counter.reservedNanos = Math.max(0, counter.reservedNanos - entry.releaseNanos)
      // A counter that was never seeded is left alone: seeding reads the
      // usage table, which will contain this request's cost.
      if (counter.spentNanos === undefined) continue
      counter.spentNanos += entry.actualNanos
      for (const fraction of entry.warnAt) {
        if (counter.spentNanos >= fraction * entry.limitNanos && !counter.warned.has(fraction)) {
          counter.warned.add(fraction)
          crossed.push({ budget: index, fraction, spentNanos: counter.spentNanos })
        }
      }
    }
    const nowMs = now()
    for (const entry of request.rates) {
      const tat = gcraCorrect(tats.get(entry.key), nowMs, entry.perMinute, entry.delta)
      if (tat > nowMs) tats.set(entry.key, tat)
      else tats.delete(entry.key)
    }
    return crossed
  }

  return {
    admit: (request) => Effect.sync(() => admitNow(request)),
    settle: (request) => Effect.sync(() => settleNow(request)),
    seed: (key, spentNanos, expiresAtMs) =>
      Effect.sync(() => {
        const counter = counterOf(key, expiresAtMs)
        if (counter.spentNanos === undefined) counter.spentNanos = spentNanos
      }),
    read: (keys) =>
      Effect.sync(() =>
        keys.map((key): BudgetState | undefined => {
          const counter = budgets.get(key)
          return counter?.spentNanos === undefined
            ? undefined
            : { spentNanos: counter.spentNanos, reservedNanos: counter.reservedNanos }
        })
      ),
    sweep: (nowMs) => {
      for (const [key, counter] of budgets) if (counter.expiresAtMs <= nowMs) budgets.delete(key)
      for (const [key, tat] of tats) if (tat <= nowMs) tats.delete(key)
    },
    size: () => budgets.size + tats.size
  }
}

/** Creates an in-memory store whose expired counters are deleted every minute while the scope is open. */
export const makeMemoryLimitStore: Effect.Effect<MemoryLimitStore, never, Scope.Scope> = Effect.gen(function* () {
  const store = makeMemoryCounters()

  yield* Effect.sync(() => store.sweep(Date.now())).pipe(
    Effect.repeat(Schedule.spaced(SWEEP_INTERVAL)),
    Effect.delay(SWEEP_INTERVAL),
    Effect.forkScoped
  )
  return store
})
