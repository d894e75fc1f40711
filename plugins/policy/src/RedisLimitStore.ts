/**
 * Budget and rate limit counters in Redis, shared by every Fluxen instance
 * that uses the same Redis and key prefix. Admission and settlement are Lua
 * scripts, so each is atomic across all the counters of a request and costs
 * one round trip. Time is read inside the scripts with Redis `TIME`, so the
 * instances' clocks do not need to agree.
 *
 * Keys below the prefix:
 * - `rate:<scope>:<name>:<unit>`: a GCRA TAT in epoch ms, expiring once back at full allowance.
 * - `budget:<scope>:<name>:<period>:<start>`: spent nanodollars of one period.
 * - the same with `:reserved`: a hash of the nanodollars of each reservation
 *   (by request id), and their sum in the field `total`.
 * - the same with `:expiry`: a sorted set of reservation ids by expiry time.
 * - the same with `:warned`: a set of the warning fractions already reported.
 * Budget keys expire an hour after their period ends.
 *
 * A reservation that is never settled (its instance crashed, or the
 * settlement failed) stops counting after `reservationTtlMs`: each admission
 * first removes the expired ones.
 *
 * Redis trouble delays a request by at most the command timeout, because
 * commands are not queued while the connection is down. After a few
 * consecutive failures it delays none: a circuit breaker from the SDK then
 * fails every operation at once for a growing interval, and when it ends
 * probes Redis with one `PING` in the background, whether or not requests
 * arrive. The client reconnects in the background while the store is open.
 *
 * NOTE: written for a single Redis server (or a primary with replicas).
 * Redis Cluster is not supported, because one script touches keys in
 * several hash slots.
 */
import { makeCircuitGuard, type CircuitBreakerOptions, type CircuitState } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { createHash } from "node:crypto"
import {
  LimitStoreError,
  type AdmitRequest,
  type AdmitResult,
  type BudgetState,
  type CrossedThreshold,
  type LimitStore,
  type SettleRequest
} from "./LimitStore.js"

const QUIT_TIMEOUT_MS = 1_000

export interface RedisLimitStoreOptions {
  readonly url: Redacted.Redacted<string>
  readonly keyPrefix: string
  readonly connectTimeoutMs: number
  readonly commandTimeoutMs: number
  /** How long an unsettled reservation counts against its budgets, in milliseconds. */
  readonly reservationTtlMs: number
  /** Called for connection errors that ioredis reports outside a command; the store logs through it. */
  readonly onConnectionError: (error: Error) => void
  /** When to skip Redis after failures; the SDK's `DEFAULT_CIRCUIT_BREAKER` by default. */
  readonly circuitBreaker?: CircuitBreakerOptions
}

export interface RedisLimitStore extends LimitStore {
  /** The ioredis connection status (`ready`, `connecting`, `reconnecting`, `end`). */
  readonly status: () => string
  /** The circuit breaker's state. Operations fail at once unless it is `closed`, but for one probe when `half-open`. */
  readonly circuit: () => CircuitState
}

// Shared opening of the scripts: the server time in ms, and a function that
// drops the expired reservations of one budget and returns the reserved total.
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function reservedTotal(reservedKey, expiryKey)
  local expired = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', now)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', reservedKey, id)
    if amount then
      redis.call('HINCRBY', reservedKey, 'total', -tonumber(amount))
      redis.call('HDEL', reservedKey, id)
    end
    redis.call('ZREM', expiryKey, id)
  end
  return tonumber(redis.call('HGET', reservedKey, 'total') or '0')
end
`

/**
 * KEYS: one TAT key per rate, then spent, reserved and expiry keys per budget.
 * ARGV: reservation id, reservation TTL, rate count, budget count, then per
 * rate (perMinute, cost), then per budget (limit, estimate, expiresAtMs).
 */
const ADMIT_SCRIPT = `${PRELUDE}
local id = ARGV[1]
local ttl = tonumber(ARGV[2])
local nRates = tonumber(ARGV[3])
local nBudgets = tonumber(ARGV[4])
local window = 60000

local unseeded = {}
local spent = {}
local reserved = {}
for j = 1, nBudgets do
  local base = nRates + 3 * (j - 1)
  local value = redis.call('GET', KEYS[base + 1])
  if not value then
    unseeded[#unseeded + 1] = j - 1
  else
    spent[j] = tonumber(value)
    reserved[j] = reservedTotal(KEYS[base + 2], KEYS[base + 3])
  end
end
if #unseeded > 0 then
  return {'unseeded', unseeded}
end

local budgetArg = 4 + 2 * nRates
for j = 1, nBudgets do
  local base = budgetArg + 3 * (j - 1)
  if spent[j] + reserved[j] + tonumber(ARGV[base + 2]) > tonumber(ARGV[base + 1]) then
    return {'over_budget', j - 1, tostring(spent[j]), tostring(reserved[j])}
  end
end

local tats = {}
local states = {}
for i = 1, nRates do
  local perMinute = tonumber(ARGV[4 + 2 * i - 1])
  local cost = tonumber(ARGV[4 + 2 * i])
  local interval = window / perMinute
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local newTat = tat + cost * interval
  local ahead = newTat - now
  if ahead > window + 0.001 then
    return {'rate_limited', i - 1, tostring(ahead - window)}
  end
  tats[i] = newTat
  states[#states + 1] = tostring(math.max(0, math.floor((window - ahead) / interval + 1e-9)))
  states[#states + 1] = tostring(ahead)
end

for i = 1, nRates do
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1000)
end
for j = 1, nBudgets do
  local base = budgetArg + 3 * (j - 1)
  local reservedKey = KEYS[nRates + 3 * (j - 1) + 2]
  local expiryKey = KEYS[nRates + 3 * (j - 1) + 3]
  redis.call('HSET', reservedKey, id, ARGV[base + 2])
  redis.call('HINCRBY', reservedKey, 'total', ARGV[base + 2])
  redis.call('ZADD', expiryKey, now + ttl, id)
  redis.call('PEXPIREAT', reservedKey, ARGV[base + 3])
  redis.call('PEXPIREAT', expiryKey, ARGV[base + 3])
end
return {'admitted', states}
`

/**
 * KEYS: spent, reserved, expiry and warned keys per budget, then one TAT key per rate.
 * ARGV: reservation id, budget count, rate count, then per budget (actual,
 * limit, expiresAtMs, warning count, fractions...), then per rate
 * (perMinute, delta).
 */
const SETTLE_SCRIPT = `${PRELUDE}
local id = ARGV[1]
local nBudgets = tonumber(ARGV[2])
local nRates = tonumber(ARGV[3])
local a = 4
local crossed = {}
for j = 1, nBudgets do
  local spentKey = KEYS[4 * (j - 1) + 1]
  local reservedKey = KEYS[4 * (j - 1) + 2]
  local expiryKey = KEYS[4 * (j - 1) + 3]
  local warnedKey = KEYS[4 * (j - 1) + 4]
  local nWarn = tonumber(ARGV[a + 3])
  if redis.call('ZREM', expiryKey, id) == 1 then
    local amount = redis.call('HGET', reservedKey, id)
    if amount then
      redis.call('HINCRBY', reservedKey, 'total', -tonumber(amount))
      redis.call('HDEL', reservedKey, id)
    end
  end
  -- A missing counter is not created: seeding reads the usage table, which
  -- will contain this request's cost.
  if redis.call('EXISTS', spentKey) == 1 then
    local total = redis.call('INCRBY', spentKey, ARGV[a])
    local limit = tonumber(ARGV[a + 1])
    for w = 1, nWarn do
      local fraction = ARGV[a + 3 + w]
      if total >= tonumber(fraction) * limit and redis.call('SADD', warnedKey, fraction) == 1 then
        redis.call('PEXPIREAT', warnedKey, ARGV[a + 2])
        crossed[#crossed + 1] = tostring(j - 1)
        crossed[#crossed + 1] = fraction
        crossed[#crossed + 1] = tostring(total)
      end
    end
  end
  a = a + 4 + nWarn
end
for i = 1, nRates do
  local key = KEYS[4 * nBudgets + i]
  local interval = 60000 / tonumber(ARGV[a])
  local delta = tonumber(ARGV[a + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if delta > 0 then
    if tat < now then tat = now end
    tat = tat + delta * interval
  elseif tat > now then
    tat = math.max(now, tat + delta * interval)
  end
  if tat > now then
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  else
    redis.call('DEL', key)
  end
  a = a + 2
end
return crossed
`

/** KEYS: spent, reserved and expiry keys per budget. */
const READ_SCRIPT = `${PRELUDE}
local result = {}
for j = 1, #KEYS, 3 do
  local value = redis.call('GET', KEYS[j])
  result[#result + 1] = value or ''
  result[#result + 1] = tostring(reservedTotal(KEYS[j + 1], KEYS[j + 2]))
end
return result
`

interface Script {
  readonly source: string
  readonly sha: string
}

const script = (source: string): Script => ({ source, sha: createHash("sha1").update(source).digest("hex") })

const scripts = {
  admit: script(ADMIT_SCRIPT),
  settle: script(SETTLE_SCRIPT),
  read: script(READ_SCRIPT)
}

const failureReason = (cause: unknown): LimitStoreError["reason"] => {
  const message = cause instanceof Error ? cause.message : ""
  if (message === "Command timed out") return "timeout"
  if (
    message.includes("enableOfflineQueue") ||
    message.includes("Connection is closed") ||
    (cause instanceof Error && cause.name === "MaxRetriesPerRequestError")
  ) {
    return "unavailable"
  }
  return "failed"
}

const skippedError = (operation: string) =>
  new LimitStoreError({
    reason: "circuit-open",
    message: `Redis ${operation} skipped: the circuit breaker is open after consecutive Redis failures.`
  })

const toStoreError = (operation: string) => (cause: unknown) =>
  new LimitStoreError({
    reason: failureReason(cause),
    message: `Redis ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

// Reconnection delay in ms: growing with the attempt and capped, so limits
// are checked again soon after Redis returns.
const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 1_000)

const waitUntilReady = (client: Redis, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (client.status === "ready") return resolve(true)
    const onReady = () => {
      clearTimeout(timer)
      resolve(true)
    }
    const timer = setTimeout(() => {
      client.off("ready", onReady)
      resolve(false)
    }, timeoutMs)
    client.once("ready", onReady)
  })

const closeClient = (client: Redis): Promise<void> => {
  if (client.status !== "ready") {
    client.disconnect()
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.disconnect()
      resolve()
    }, QUIT_TIMEOUT_MS)
    client.quit().then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      () => {
        clearTimeout(timer)
        client.disconnect()
        resolve()
      }
    )
  })
}

const asStrings = (value: unknown): ReadonlyArray<string> => {
  if (!Array.isArray(value)) return []
  return value.map((item) => String(item))
}

const parseAdmitReply = (reply: unknown): AdmitResult => {
  if (!Array.isArray(reply)) throw new Error(`unexpected admission reply ${JSON.stringify(reply)}`)
  const [tag, ...rest] = reply as Array<unknown>
  switch (tag) {
    case "admitted": {
      const values = asStrings(rest[0])
      const rates = []
      for (let i = 0; i < values.length; i += 2) rates.push({ remaining: Number(values[i]), resetMs: Number(values[i + 1]) })
      return { _tag: "Admitted", rates }
    }
    case "unseeded":
      return { _tag: "Unseeded", budgets: asStrings(rest[0]).map(Number) }
    case "over_budget":
      return { _tag: "OverBudget", budget: Number(rest[0]), spentNanos: Number(rest[1]), reservedNanos: Number(rest[2]) }
    case "rate_limited":
      return { _tag: "RateLimited", rate: Number(rest[0]), retryAfterMs: Number(rest[1]) }
    default:
      throw new Error(`unexpected admission reply ${JSON.stringify(reply)}`)
  }
}

/**
 * Opens the store in the current scope; closing the scope quits the
 * connection. Startup waits up to the connect
 * timeout for Redis, then goes on without it. Until Redis responds, every
 * operation fails with a `LimitStoreError` and the plugin applies its
 * `redis.failMode`.
 */
export const makeRedisLimitStore = (options: RedisLimitStoreOptions): Effect.Effect<RedisLimitStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = options.keyPrefix
    const budgetKeys = (key: string) => [prefix + key, `${prefix}${key}:reserved`, `${prefix}${key}:expiry`]

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis(Redacted.value(options.url), {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: options.connectTimeoutMs,
          commandTimeout: options.commandTimeoutMs,
          retryStrategy: reconnectDelayMs
        })
        redis.on("error", options.onConnectionError)
        return redis
      }),
      (redis) => Effect.promise(() => closeClient(redis))
    )
    // connect() rejects when the first attempt fails; ioredis keeps retrying with retryStrategy.
    client.connect().catch(() => undefined)
    yield* Effect.promise(() => waitUntilReady(client, options.connectTimeoutMs))

    const guard = yield* makeCircuitGuard({
      breaker: options.circuitBreaker,
      probe: Effect.tryPromise(() => client.ping()),
      log: {
        opened: (breaker) =>
          `Redis failed or timed out on ${breaker.options.failureThreshold} operations in a row, so the policy skips Redis for ${breaker.currentOpenMs} ms, applying redis.failMode at once, and then probes it with one command.`,
        closed: "Redis responded to the probe command, so the policy checks limits in Redis again.",
        annotations: { "policy.store": "redis" }
      }
    })

    /** Runs one operation unless the circuit breaker skips it. */
    const send = <A>(operation: string, command: () => Promise<A>): Effect.Effect<A, LimitStoreError> =>
      guard.run(Effect.tryPromise({ try: command, catch: toStoreError(operation) }), () => skippedError(operation))

    const evalScript = (operation: string, chosen: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) =>
      send(operation, async () => {
        try {
          return await client.evalsha(chosen.sha, keys.length, ...keys, ...args)
        } catch (error) {
          if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
            return await client.eval(chosen.source, keys.length, ...keys, ...args)
          }
          throw error
        }
      })
    const admit = (request: AdmitRequest): Effect.Effect<AdmitResult, LimitStoreError> => {
      const keys: Array<string> = []
      const args: Array<string | number> = [request.reservationId, options.reservationTtlMs, request.rates.length, request.budgets.length]
      for (const rate of request.rates) {
        keys.push(prefix + rate.key)
        args.push(rate.perMinute, rate.cost)
      }
      for (const budget of request.budgets) {
        keys.push(...budgetKeys(budget.key))
        args.push(budget.limitNanos, budget.estimateNanos, budget.expiresAtMs)
      }
      return evalScript("admission", scripts.admit, keys, args).pipe(
        Effect.flatMap((reply) => Effect.try({ try: () => parseAdmitReply(reply), catch: toStoreError("admission") }))
      )
    }

    const settle = (request: SettleRequest): Effect.Effect<ReadonlyArray<CrossedThreshold>, LimitStoreError> => {
      const keys: Array<string> = []
      const args: Array<string | number> = [request.reservationId, request.budgets.length, request.rates.length]
      for (const budget of request.budgets) {
        keys.push(...budgetKeys(budget.key), `${prefix}${budget.key}:warned`)
        args.push(budget.actualNanos, budget.limitNanos, budget.expiresAtMs, budget.warnAt.length, ...budget.warnAt)
      }
      for (const rate of request.rates) {
        keys.push(prefix + rate.key)
        args.push(rate.perMinute, rate.delta)
      }
      return evalScript("settlement", scripts.settle, keys, args).pipe(
        Effect.map((reply) => {
          const values = asStrings(reply)
          const crossed: Array<CrossedThreshold> = []
          for (let i = 0; i < values.length; i += 3) {
            crossed.push({ budget: Number(values[i]), fraction: Number(values[i + 1]), spentNanos: Number(values[i + 2]) })
          }
          return crossed
        })
      )
    }

    const seed = (key: string, spentNanos: number, expiresAtMs: number): Effect.Effect<void, LimitStoreError> =>
      send("seeding", () => client.call("SET", prefix + key, String(spentNanos), "PXAT", String(expiresAtMs), "NX")).pipe(Effect.asVoid)

    const read = (keys: ReadonlyArray<string>) =>
      evalScript("read", scripts.read, keys.flatMap(budgetKeys), []).pipe(
        Effect.map((reply) => {
          const values = asStrings(reply)
          const states: Array<BudgetState | undefined> = []
          for (let i = 0; i < values.length; i += 2) {
            states.push(values[i] === "" ? undefined : { spentNanos: Number(values[i]), reservedNanos: Number(values[i + 1]) })
          }
          return states
        })
      )

    const store: RedisLimitStore = { admit, settle, seed, read, status: () => client.status, circuit: () => guard.breaker.state }
    return store
  })
