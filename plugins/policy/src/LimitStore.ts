/**
 * The counters behind budgets and rate limits, and the contract both stores
 * (in memory, and Redis for several instances) fulfil.
 *
 * Budgets count integer nanodollars (1e-9 USD) so that sums stay exact. Each
 * budget period has a spent counter and a reserved total. Admission checks
 * `spent + reserved + estimate <= limit` for every budget of the request, then
 * reserves the estimate on all of them or on none.
 *
 * Rate limits use GCRA (the generic cell rate algorithm): each limit stores a
 * theoretical arrival time (TAT), and a request of `cost` units moves it
 * `cost * 60000 / perMinute` ms forward. A request passes while the TAT stays
 * within one minute of now, so a full minute's allowance may arrive at once.
 */
import { Schema } from "effect"
import type { Effect } from "effect"

export const RATE_WINDOW_MS = 60_000

export interface RateCheck {
  /** The counter key, e.g. `rate:key:<id>:requests`. */
  readonly key: string
  readonly perMinute: number
  /** Units this request takes: 1 for a request limit, estimated tokens for a token limit. */
  readonly cost: number
}

export interface BudgetCheck {
  /** The counter key of the budget's current period, e.g. `budget:key:<id>:day:2025-03-01`. */
  readonly key: string
  readonly limitNanos: number
  readonly estimateNanos: number
  /** When the period's counters may be deleted, in epoch milliseconds. */
  readonly expiresAtMs: number
}

export interface AdmitRequest {
  /** Identifies the reservation at settlement; the request id. */
  readonly reservationId: string
  readonly rates: ReadonlyArray<RateCheck>
  readonly budgets: ReadonlyArray<BudgetCheck>
}

/** A rate limit's state after a request, for the `x-ratelimit-*` headers. */
export interface RateState {
  readonly remaining: number
  /** Time until the limit is back to its full allowance, in milliseconds. */
  readonly resetMs: number
}

export type AdmitResult =
  | { readonly _tag: "Admitted"; readonly rates: ReadonlyArray<RateState> }
  /** Some budget counters do not exist yet; seed them from the usage table and try again. Nothing was reserved. */
  | { readonly _tag: "Unseeded"; readonly budgets: ReadonlyArray<number> }
  | { readonly _tag: "OverBudget"; readonly budget: number; readonly spentNanos: number; readonly reservedNanos: number }
  | { readonly _tag: "RateLimited"; readonly rate: number; readonly retryAfterMs: number }

export interface SettleBudget {
  readonly key: string
  /**
   * The amount reserved at admission, released now; 0 when nothing was
   * reserved. The Redis store releases the amount it recorded under the
   * reservation id instead.
   */
  readonly releaseNanos: number
  /** The request's cost, added to the spent counter when the counter exists. */
  readonly actualNanos: number
  readonly limitNanos: number
  readonly expiresAtMs: number
  /** Fractions of the limit to report the first time the spent counter reaches them. */
  readonly warnAt: ReadonlyArray<number>
}

export interface SettleRate {
  readonly key: string
  readonly perMinute: number
  /** Units to add (positive) or give back (negative). */
  readonly delta: number
}

export interface SettleRequest {
  readonly reservationId: string
  readonly budgets: ReadonlyArray<SettleBudget>
  readonly rates: ReadonlyArray<SettleRate>
}

/** A warning threshold a budget reached for the first time in its period. */
export interface CrossedThreshold {
  /** Index into `SettleRequest.budgets`. */
  readonly budget: number
  readonly fraction: number
  readonly spentNanos: number
}

export interface BudgetState {
  readonly spentNanos: number
  readonly reservedNanos: number
}

export class LimitStoreError extends Schema.TaggedError<LimitStoreError>()("LimitStoreError", {
  /** `circuit-open`: skipped without a command, because the Redis circuit breaker is open. */
  reason: Schema.Literal("unavailable", "timeout", "failed", "circuit-open"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface LimitStore {
  /** Checks every rate limit and budget of a request and takes from all of them, or from none. */
  readonly admit: (request: AdmitRequest) => Effect.Effect<AdmitResult, LimitStoreError>
  /** Releases reservations, adds the actual spend and corrects token counts after a request. */
  readonly settle: (request: SettleRequest) => Effect.Effect<ReadonlyArray<CrossedThreshold>, LimitStoreError>
  /** Sets a budget period's spent counter unless it exists already. */
  readonly seed: (key: string, spentNanos: number, expiresAtMs: number) => Effect.Effect<void, LimitStoreError>
  /** Reads budget counters; undefined for a counter that does not exist. */
  readonly read: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<BudgetState | undefined>, LimitStoreError>
}

/** The outcome of one GCRA step; see the module comment. */
export interface GcraStep {
  readonly allowed: boolean
  /** The TAT to store when allowed. */
  readonly tat: number
  readonly state: RateState
  /** Wait until the request would pass, in milliseconds; 0 when allowed. */
  readonly retryAfterMs: number
}

// Allows for float rounding in `cost * interval`, so that exactly one
// minute's allowance passes.
const EPSILON_MS = 0.001

export const gcraStep = (storedTat: number | undefined, nowMs: number, perMinute: number, cost: number): GcraStep => {
  const interval = RATE_WINDOW_MS / perMinute
  const start = storedTat === undefined || storedTat < nowMs ? nowMs : storedTat
  const tat = start + cost * interval
  const ahead = tat - nowMs
  if (ahead <= RATE_WINDOW_MS + EPSILON_MS) {
    return {
      allowed: true,
      tat,
      state: { remaining: Math.max(0, Math.floor((RATE_WINDOW_MS - ahead) / interval + 1e-9)), resetMs: ahead },
      retryAfterMs: 0
    }
  }
  return {
    allowed: false,
    tat: start,
    state: { remaining: Math.max(0, Math.floor((RATE_WINDOW_MS - (start - nowMs)) / interval + 1e-9)), resetMs: start - nowMs },
    retryAfterMs: ahead - RATE_WINDOW_MS
  }
}

/** Moves a stored TAT by `delta` units; a TAT in the past means the limit is at its full allowance. */
export const gcraCorrect = (storedTat: number | undefined, nowMs: number, perMinute: number, delta: number): number => {
  const interval = RATE_WINDOW_MS / perMinute
  const tat = storedTat === undefined ? nowMs : storedTat
  if (delta > 0) return Math.max(tat, nowMs) + delta * interval
  return tat > nowMs ? Math.max(nowMs, tat + delta * interval) : tat
}
