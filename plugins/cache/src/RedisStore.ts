/**
 * A store in Redis, through ioredis: one string key per entry, written with
 * `SET key value PX ttl`, the value being the entry's JSON.
 *
 * A failing or stalled Redis delays a request by at most the command
 * timeout, and after a few consecutive failures not at all: a circuit
 * breaker from the SDK then skips Redis for a growing interval and sends
 * one probe command when it ends, whether or not lookups arrive. Commands
 * are not queued while the connection is down (they fail at once), a
 * command in flight when the connection drops fails without being retried,
 * and the client reconnects in the background for as long as the store is
 * open. A command that timed out on a stalled connection stays sent, so
 * Redis may still apply a SET when it resumes.
 * The store only reports failures; the cache hooks turn them into misses.
 */
import { makeCircuitGuard, type CircuitBreakerOptions, type CircuitState } from "@fluxen/sdk"
import { Effect, Either, Redacted, Runtime } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { CacheStoreError, decodeEntry, encodeEntry, type CacheStore } from "./CacheStore.js"
import { makeRateLimitedWarning } from "./RateLimitedWarning.js"

export interface RedisStoreOptions {
  readonly url: Redacted.Redacted<string>
  /** Prepended to every key by ioredis. */
  readonly keyPrefix: string
  /** Time allowed to open a connection, in milliseconds; startup waits at most this long for Redis. */
  readonly connectTimeoutMs: number
  /** Time allowed to one command, in milliseconds. */
  readonly commandTimeoutMs: number
  /** Minimum time between two logged connection warnings, in milliseconds. */
  readonly warningIntervalMs?: number
  /** When to skip Redis after failures; the SDK's `DEFAULT_CIRCUIT_BREAKER` by default. */
  readonly circuitBreaker?: CircuitBreakerOptions
}

export interface RedisStoreStats {
  /** The ioredis connection status: `ready`, `connecting`, `reconnecting`, `end` and so on. */
  readonly status: string
  /** Times an open connection closed without the store closing it. */
  readonly disconnects: number
  /** Connection errors reported by ioredis since the store opened, failed reconnection attempts included. */
  readonly connectionErrors: number
  /** Lookups and stores that failed, timed out or read a value that is not a cache entry. Skipped ones are not counted. */
  readonly commandFailures: number
  /** The circuit breaker's state. Commands are skipped unless it is `closed`, but for one probe when `half-open`. */
  readonly circuit: CircuitState
}

export interface RedisStore extends CacheStore {
  readonly stats: () => RedisStoreStats
}

// Delay before each reconnection attempt, in milliseconds. It grows with the
// attempt count up to 1 s, so the connection is ready within about a second
// of Redis. An open circuit breaker keeps skipping Redis until its next probe.
export const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 1_000)

const DEFAULT_WARNING_INTERVAL_MS = 10_000
const QUIT_TIMEOUT_MS = 1_000

const failureReason = (cause: unknown): CacheStoreError["reason"] => {
  const message = cause instanceof Error ? cause.message : ""
  if (message === "Command timed out") return "timeout"
  if (message.includes("enableOfflineQueue") || message.includes("Connection is closed") || cause instanceof Error && cause.name === "MaxRetriesPerRequestError") {
    return "unavailable"
  }
  return "failed"
}

const commandName = (operation: CacheStoreError["operation"]) => (operation === "get" ? "GET" : "SET")

const commandError = (operation: CacheStoreError["operation"]) => (cause: unknown) =>
  new CacheStoreError({
    operation,
    reason: failureReason(cause),
    message: `Redis ${commandName(operation)} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

const skippedError = (operation: CacheStoreError["operation"]) =>
  new CacheStoreError({
    operation,
    reason: "circuit-open",
    message: `Redis ${commandName(operation)} skipped: the circuit breaker is open after consecutive Redis failures.`
  })

/** Resolves when the client is ready, or after `timeoutMs`; returns whether it is ready. */
export const waitUntilReady = (client: Redis, timeoutMs: number): Promise<boolean> =>
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

/**
 * Closes the client. A ready connection is sent QUIT, which lets Redis finish
 * the commands already sent, and is cut off if it has not closed within
 * {@link QUIT_TIMEOUT_MS}. Any other connection is cut off at once.
 */
export const closeClient = (client: Redis): Promise<void> => {
  if (client.status !== "ready") {
    // NOTE: ioredis leaves the status at `reconnecting` when a client is
    // disconnected between two reconnection attempts; no socket is open then.
    client.disconnect()
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      client.off("end", finish)
      client.disconnect()
      resolve()
    }, QUIT_TIMEOUT_MS)
    client.once("end", finish)
    client.quit().catch(() => client.disconnect())
  })
}

/**
 * Opens a Redis store in the current scope; closing the scope quits the
 * connection. Startup waits up to the connect timeout for Redis, then goes
 * on without it: until Redis responds, every lookup is a miss.
 */
export const makeRedisStore = (options: RedisStoreOptions): Effect.Effect<RedisStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const warn = makeRateLimitedWarning(options.warningIntervalMs ?? DEFAULT_WARNING_INTERVAL_MS)
    let connectionErrors = 0
    let disconnects = 0
    let commandFailures = 0
    let connectionLost = false
    let closing = false
    // The circuit breaker's state, for the log line of a reconnection. It is set once the guard exists, after the client.
    let circuitState = (): CircuitState => "closed"

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis(Redacted.value(options.url), {
          keyPrefix: options.keyPrefix,
          connectTimeout: options.connectTimeoutMs,
          commandTimeout: options.commandTimeoutMs,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          retryStrategy: reconnectDelayMs
        })
        redis.on("error", (error: Error) => {
          connectionErrors++
          connectionLost = true
          runFork(
            warn("The Redis connection failed; the cache is bypassed until it reconnects.", {
              "cache.store": "redis",
              error: error.message
            })
          )
        })
        redis.on("close", () => {
          if (closing || connectionLost) return
          disconnects++
          connectionLost = true
          runFork(
            warn("The Redis connection closed; the cache is bypassed until it reconnects.", { "cache.store": "redis" })
          )
        })
        redis.on("ready", () => {
          if (!connectionLost) return
          connectionLost = false
          // An open breaker keeps skipping Redis until its probe succeeds, at the end of the open interval.
          const message = circuitState() === "closed"
            ? "The Redis connection is ready again; the cache is back in use."
            : "The Redis connection is ready again; the cache uses it once the circuit breaker's next probe succeeds."
          runFork(Effect.logInfo(message).pipe(Effect.annotateLogs({ "cache.store": "redis" })))
        })
        return redis
      }),
      (redis) =>
        Effect.promise(() => {
          closing = true
          return closeClient(redis)
        })
    )

    const ready = yield* Effect.promise(() => waitUntilReady(client, options.connectTimeoutMs))
    if (ready) {
      yield* Effect.logInfo("Connected to Redis").pipe(Effect.annotateLogs({ "cache.store": "redis" }))
    } else {
      connectionLost = true
      yield* Effect.logWarning(
        `Redis did not respond within ${options.connectTimeoutMs} ms of startup; requests go uncached until it does.`
      ).pipe(Effect.annotateLogs({ "cache.store": "redis", "redis.status": client.status }))
    }

    const countFailure = <A>(effect: Effect.Effect<A, CacheStoreError>) =>
      Effect.tapError(effect, (error) =>
        Effect.sync(() => {
          if (error.reason !== "circuit-open") commandFailures++
        })
      )

    const guard = yield* makeCircuitGuard({
      breaker: options.circuitBreaker,
      probe: Effect.tryPromise(() => client.ping()),
      log: {
        opened: (breaker) =>
          `Redis failed or timed out on ${breaker.options.failureThreshold} commands in a row, so the cache skips Redis for ${breaker.currentOpenMs} ms and then probes it with one command.`,
        closed: "Redis responded to the probe command, so the cache uses Redis again.",
        annotations: { "cache.store": "redis" }
      }
    })
    circuitState = () => guard.breaker.state

    /** Runs one command unless the circuit breaker skips it. */
    const send = <A>(operation: CacheStoreError["operation"], command: () => Promise<A>): Effect.Effect<A, CacheStoreError> =>
      guard.run(Effect.tryPromise({ try: command, catch: commandError(operation) }), () => skippedError(operation))

    return {
      kind: "redis",

      get: (key) =>
        send("get", () => client.get(key)).pipe(
          Effect.flatMap((text) => {
            if (text === null) return Effect.succeed(undefined)
            const decoded = decodeEntry(text)
            return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(decoded.left)
          }),
          countFailure
        ),

      set: (key, entry, ttlMs) =>
        send("set", () => client.set(key, encodeEntry(entry), "PX", Math.max(1, Math.round(ttlMs)))).pipe(
          Effect.asVoid,
          countFailure
        ),

      stats: () => ({ status: client.status, disconnects, connectionErrors, commandFailures, circuit: guard.breaker.state })
    } satisfies RedisStore
  })
