/**
 * The plugin's section of `fluxen.yaml`. The host decodes it with
 * {@link PolicyConfig} before the plugin starts and reports a bad value with
 * its YAML path.
 *
 * Optional fields are `exact` (absent, never `undefined`). The host decodes
 * with every error reported, and a plain optional field adds an
 * "Expected undefined, actual <value>" issue that would print secrets such
 * as the keys, the master key or a Redis password.
 */
import { ModelPrice } from "@fluxen/analyzer"
import { MAX_TIMER_MILLIS } from "@fluxen/sdk"
import { Schema } from "effect"
import { BudgetLimit, LimitScope, RateLimits, WarnFraction } from "./Limits.js"
import { BudgetPeriod } from "./Periods.js"

/** The required form of a static key in the YAML: `fx-` and at least 32 base64url characters. */
export const STATIC_KEY_PATTERN = /^fx-[A-Za-z0-9_-]{32,}$/

// The message is fixed, because the default one would repeat the key.
const StaticKeyValue = Schema.Redacted(
  Schema.String.pipe(
    Schema.pattern(STATIC_KEY_PATTERN, {
      message: () =>
        "must be 'fx-' followed by at least 32 base64url characters; generate one with: node -e \"console.log('fx-' + require('crypto').randomBytes(32).toString('base64url'))\""
    })
  )
)

const Name = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

/** A key declared in the YAML. It is hashed at start; its id is `static:<name>`. */
export const StaticKey = Schema.Struct({
  /** The secret the clients send, usually written as `${ENV_VAR}`. */
  key: StaticKeyValue,
  name: Name,
  team: Schema.optionalWith(Name, { exact: true }),
  /** Models this key may use (exact names, or prefixes ending in `*`); all models when absent. */
  models: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  budgets: Schema.optionalWith(Schema.Array(BudgetLimit), { exact: true, default: () => [] }),
  limits: Schema.optionalWith(RateLimits, { exact: true, default: () => ({}) }),
  /** Recorded with each request's usage. */
  metadata: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { exact: true, default: () => ({}) })
})
export type StaticKey = typeof StaticKey.Type

const requireNameUnlessGlobal = (entry: { readonly scope: LimitScope; readonly name?: string | undefined }) =>
  entry.scope === "global"
    ? entry.name === undefined || "a global entry takes no name"
    : (entry.name !== undefined && entry.name !== "") || `a ${entry.scope} entry needs the name of its ${entry.scope}`

/** A budget declared in the YAML for a scope. */
export const ScopedBudget = Schema.Struct({
  scope: LimitScope,
  /** The team name, key id (`static:<name>` for YAML keys) or model name; absent for `global`. */
  name: Schema.optionalWith(Schema.String, { exact: true }),
  period: BudgetPeriod,
  limitUsd: Schema.Number.pipe(Schema.positive(), Schema.finite()),
  warnAt: Schema.optionalWith(Schema.Array(WarnFraction), { exact: true })
}).pipe(Schema.filter(requireNameUnlessGlobal))
export type ScopedBudget = typeof ScopedBudget.Type

/** A rate limit declared in the YAML for a scope. */
export const ScopedRateLimit = Schema.Struct({
  scope: LimitScope,
  name: Schema.optionalWith(Schema.String, { exact: true }),
  requestsPerMinute: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true }),
  tokensPerMinute: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true })
}).pipe(
  Schema.filter(requireNameUnlessGlobal),
  Schema.filter(
    (entry) =>
      entry.requestsPerMinute !== undefined || entry.tokensPerMinute !== undefined ||
      "set requestsPerMinute, tokensPerMinute or both"
  )
)
export type ScopedRateLimit = typeof ScopedRateLimit.Type

/** A timeout in whole milliseconds, from 1 to the longest wait of a timer. */
const TimeoutMs = Schema.Int.pipe(
  Schema.between(1, MAX_TIMER_MILLIS, {
    message: () => `Expected a whole number of milliseconds from 1 to ${MAX_TIMER_MILLIS} (about 24.8 days, the longest a timer can wait)`
  })
)

export const RedisConfig = Schema.Struct({
  /** `redis://[user:password@]host:port[/db]`; the counters are then shared by every instance using it. */
  url: Schema.Redacted(Schema.String),
  /** Prepended to every key this plugin writes. */
  keyPrefix: Schema.optionalWith(Schema.String, { exact: true, default: () => "fluxen:policy:" }),
  /**
   * The outcome for requests while Redis does not respond: `open` lets them
   * through unchecked (logged and counted), `closed` fails them with 429 and `retry-after`.
   */
  failMode: Schema.optionalWith(Schema.Literal("open", "closed"), { exact: true, default: () => "open" as const }),
  /** Time allowed to one Redis command, in milliseconds. */
  commandTimeoutMs: Schema.optionalWith(TimeoutMs, { exact: true, default: () => 500 }),
  /** Time allowed to open the connection, in milliseconds; startup waits at most this long for Redis. */
  connectTimeoutMs: Schema.optionalWith(TimeoutMs, { exact: true, default: () => 2_000 }),
  /**
   * How long a reservation counts against its budgets when it is never
   * settled (an instance crashed or lost Redis mid-request), in seconds.
   * Requests that run longer lose their reservation early.
   */
  reservationTtlSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true, default: () => 900 })
})
export type RedisConfig = typeof RedisConfig.Type

const uniqueStaticKeys = (keys: ReadonlyArray<StaticKey>) => {
  const names = new Set<string>()
  for (const key of keys) {
    if (names.has(key.name)) return `two static keys are named '${key.name}'; names must be unique`
    names.add(key.name)
  }
  return true
}

export const PolicyConfig = Schema.Struct({
  /** Whether every request needs a key. When false, requests without one pass as anonymous, with global and model limits only. */
  requireKey: Schema.optionalWith(Schema.Boolean, { exact: true, default: () => true }),
  /** The secret of the admin API (`Authorization: Bearer <masterKey>`); the admin API returns 401 to every request when absent. */
  masterKey: Schema.optionalWith(
    Schema.Redacted(Schema.String.pipe(Schema.minLength(16, { message: () => "must be at least 16 characters long" }))),
    { exact: true }
  ),
  keys: Schema.optionalWith(Schema.Array(StaticKey).pipe(Schema.filter(uniqueStaticKeys)), { exact: true, default: () => [] }),
  budgets: Schema.optionalWith(Schema.Array(ScopedBudget), { exact: true, default: () => [] }),
  rateLimits: Schema.optionalWith(Schema.Array(ScopedRateLimit), { exact: true, default: () => [] }),
  /** Budget fractions that trigger a warning, for budgets that set none. */
  warnAt: Schema.optionalWith(Schema.Array(WarnFraction), { exact: true, default: () => [0.8] }),
  /** Receives a JSON POST when a budget crosses one of its `warnAt` fractions. */
  webhookUrl: Schema.optionalWith(
    Schema.String.pipe(Schema.pattern(/^https?:\/\//, { message: () => "must be an http:// or https:// URL" })),
    { exact: true }
  ),
  /** Completion tokens assumed for a request that sets no `max_tokens`, `max_completion_tokens` or `max_output_tokens`. */
  defaultMaxOutputTokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true, default: () => 1_024 }),
  /**
   * How long a looked-up key is reused without reading the database again, in seconds. 0 turns the cache
   * off. Revocation on another instance takes effect within it, so it must be finite.
   */
  keyCacheTtlSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative(), Schema.finite()), { exact: true, default: () => 30 }),
  /** Price overrides for cost estimates, in USD per million tokens, as in the analyzer's `pricing.overrides`. */
  pricing: Schema.optionalWith(
    Schema.Struct({
      overrides: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelPrice }), { exact: true, default: () => ({}) })
    }),
    { exact: true, default: () => ({ overrides: {} }) }
  ),
  /** The treatment of a budgeted request for a model without a price: `allow` (its estimate is 0) or `reject` (403). */
  unpricedModels: Schema.optionalWith(Schema.Literal("allow", "reject"), { exact: true, default: () => "allow" as const }),
  redis: Schema.optionalWith(RedisConfig, { exact: true })
})
export type PolicyConfig = typeof PolicyConfig.Type
