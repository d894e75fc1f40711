/**
 * The limits a key, team, model or the whole gateway can carry: USD budgets
 * per calendar period and rate limits per minute. The same shapes appear in
 * `fluxen.yaml`, in the admin API (with snake_case field names) and in the
 * JSON columns of the policy tables.
 */
import { Schema } from "effect"
import { BudgetPeriod } from "./Periods.js"

/** The kind of owner a budget or rate limit belongs to. */
export const LimitScope = Schema.Literal("global", "team", "key", "model")
export type LimitScope = typeof LimitScope.Type

/** A fraction of a budget at which a warning is logged and sent to the webhook, greater than 0 and less than 1. */
export const WarnFraction = Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1))

/** A USD limit on spending in one calendar period (UTC). */
export const BudgetLimit = Schema.Struct({
  period: BudgetPeriod,
  /** Maximum spend in the period, in USD. */
  limitUsd: Schema.Number.pipe(Schema.positive(), Schema.finite()),
  /** Fractions of `limitUsd` that trigger a warning; the plugin's `warnAt` applies when absent. */
  warnAt: Schema.optionalWith(Schema.Array(WarnFraction), { exact: true })
})
export type BudgetLimit = typeof BudgetLimit.Type

/** Rate limits per minute; an absent field sets no limit. */
export const RateLimits = Schema.Struct({
  requestsPerMinute: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true }),
  /** Prompt plus completion tokens. Admission counts an estimate, corrected with the reported usage afterwards. */
  tokensPerMinute: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true })
})
export type RateLimits = typeof RateLimits.Type

/** A budget or rate limit's owner. `name` is empty for `global`. */
export interface LimitOwner {
  readonly scope: LimitScope
  readonly name: string
}

/** A budget that applies to one request. */
export interface ApplicableBudget extends LimitOwner {
  readonly limit: BudgetLimit
  readonly warnAt: ReadonlyArray<number>
}

/** A rate limit that applies to one request. */
export interface ApplicableRate extends LimitOwner {
  readonly unit: "requests" | "tokens"
  /** Allowed units per minute. */
  readonly perMinute: number
}

/** Converts USD to integer nanodollars, the unit of the spend counters. */
export const toNanos = (usd: number): number => Math.round(usd * 1e9)

/**
 * Converts an estimated cost to nanodollars, rounding up. The tolerance keeps
 * float noise such as 800000.0000000001 from adding a nanodollar.
 */
export const estimateToNanos = (usd: number): number => Math.ceil(usd * 1e9 - 1e-6)

export const fromNanos = (nanos: number): number => nanos / 1e9

/**
 * Tells whether a model name matches an allow-list entry: the same name, or
 * a prefix ending in `*` (`gpt-4o*` matches `gpt-4o-mini`), or `*` alone.
 */
export const modelMatches = (pattern: string, model: string): boolean =>
  pattern.endsWith("*") ? model.startsWith(pattern.slice(0, -1)) : pattern === model
