import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, HashMap, Logger, Option, Redacted, Schedule, Scope } from "effect"
import { Redis } from "ioredis"
import { makeCacheHooks } from "./CacheHooks.js"
import { cacheMetrics } from "./cacheMetrics.js"
import type { CacheEntry } from "./CacheStore.js"
import { makeRedisStore, type RedisStore, type RedisStoreOptions } from "./RedisStore.js"
import { startTcpProxy } from "@fluxen/sdk/testing"
import { chatRequest, makeContext, okOutcome } from "./testing/fixtures.js"
import { deleteKeys, freePort, sharedRedisUrl, startRedisServer, uniqueKeyPrefix, type RedisServer } from "./testing/redisServer.js"

const COMMAND_TIMEOUT_MS = 200
// Room for scheduling on a loaded machine; the failures themselves take far less.
const FAIL_OPEN_WINDOW = Duration.seconds(1)

const entry: CacheEntry = {
  storedAt: 1_770_000_000_000,
  body: JSON.stringify({ id: "chatcmpl-1", choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hi" } }] }),
  usage: { promptTokens: 5, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
}

const usedPrefixes: Array<string> = []

const storeOptions = (url: string, label: string): RedisStoreOptions => {
  const keyPrefix = uniqueKeyPrefix(label)
  usedPrefixes.push(keyPrefix)
  return { url: Redacted.make(url), keyPrefix, connectTimeoutMs: 1_000, commandTimeoutMs: COMMAND_TIMEOUT_MS }
}

/** Polls `effect` until it succeeds, for up to `timeoutMs`. */
const eventually = <A, E>(effect: Effect.Effect<A, E>, timeoutMs: number) =>
  effect.pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout(Duration.millis(timeoutMs)))

const withServer = <A, E>(body: (server: RedisServer) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function* () {
    const port = yield* Effect.promise(freePort)
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startRedisServer(port)),
      (started) => Effect.promise(() => started.stop())
    )
    return yield* body(server)
  }).pipe(Effect.scoped)

const completion = JSON.parse(entry.body)

/** Makes cache hooks on `store` and stores the response to the request "warm" through them. */
const warmCache = (store: RedisStore) =>
  Effect.gen(function* () {
    const cache = makeCacheHooks({ pluginName: "cache", store, ttlMs: 60_000, maxTtlMs: 60_000, namespace: undefined, maxEntryBytes: 1_048_576 })
    const beforeRequest = cache.hooks.beforeRequest!
    const afterResponse = cache.hooks.afterResponse!

    const warm = makeContext({ request: chatRequest("warm") })
    yield* beforeRequest(warm)
    yield* afterResponse(warm, okOutcome(completion, entry.usage))
    return { cache, beforeRequest, afterResponse }
  })

afterAll(async () => {
  for (const prefix of usedPrefixes) await deleteKeys(sharedRedisUrl, prefix)
})

describe("RedisStore on the shared Redis", () => {
  it.live("stores and returns an entry", () =>
    Effect.gen(function* () {
      const store = yield* makeRedisStore(storeOptions(sharedRedisUrl, "roundtrip"))

      yield* store.set("k1", entry, 60_000)

      expect(yield* store.get("k1")).toEqual(entry)
      expect(yield* store.get("absent")).toBeUndefined()
      expect(store.stats()).toMatchObject({ status: "ready", commandFailures: 0 })
    }).pipe(Effect.scoped))

  it.live("keeps 1-hour cache writes", () =>
    Effect.gen(function* () {
      const store = yield* makeRedisStore(storeOptions(sharedRedisUrl, "one-hour"))
      const usage = { promptTokens: 430, completionTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 418, cacheWrite1hTokens: 300, reasoningTokens: 0 }

      yield* store.set("k1", { ...entry, usage }, 60_000)

      expect((yield* store.get("k1"))?.usage?.cacheWrite1hTokens).toBe(300)
    }).pipe(Effect.scoped))

  it.live("writes JSON under the prefix with a TTL", () =>
    Effect.gen(function* () {
      const options = storeOptions(sharedRedisUrl, "layout")
      const store = yield* makeRedisStore(options)
      const raw = new Redis(sharedRedisUrl)
      yield* Effect.addFinalizer(() => Effect.sync(() => raw.disconnect()))

      yield* store.set("k1", entry, 60_000)

      const stored = yield* Effect.promise(() => raw.get(`${options.keyPrefix}k1`))
      const ttl = yield* Effect.promise(() => raw.pttl(`${options.keyPrefix}k1`))
      expect(JSON.parse(stored ?? "null")).toEqual(entry)
      expect(ttl).toBeGreaterThan(55_000)
      expect(ttl).toBeLessThanOrEqual(60_000)
    }).pipe(Effect.scoped))

  it.live("expires an entry after its TTL", () =>
    Effect.gen(function* () {
      const store = yield* makeRedisStore(storeOptions(sharedRedisUrl, "expiry"))

      yield* store.set("k1", entry, 50)
      yield* Effect.sleep("150 millis")

      expect(yield* store.get("k1")).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("reports a value that is not an entry", () =>
    Effect.gen(function* () {
      const options = storeOptions(sharedRedisUrl, "invalid")
      const store = yield* makeRedisStore(options)
      const raw = new Redis(sharedRedisUrl)
      yield* Effect.addFinalizer(() => Effect.sync(() => raw.disconnect()))
      yield* Effect.promise(() => raw.set(`${options.keyPrefix}k1`, "{\"body\":42}", "PX", 60_000))

      const result = yield* Effect.exit(store.get("k1"))

      expect(result).toMatchObject({ _tag: "Failure" })
      const error = Exit.isFailure(result) ? result.cause.toJSON() : undefined
      expect(JSON.stringify(error)).toContain("invalid-entry")
      expect(store.stats().commandFailures).toBe(1)
    }).pipe(Effect.scoped))

  it.live("quits the connection when its scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const store = yield* Scope.extend(makeRedisStore(storeOptions(sharedRedisUrl, "close")), scope)
      expect(store.stats().status).toBe("ready")

      yield* Scope.close(scope, Exit.void)

      expect(store.stats().status).toBe("end")
    }))
})

describe("RedisStore with its own redis-server", () => {
  it.live("fails open while Redis is down and recovers by itself", () =>
    withServer((server) =>
      Effect.gen(function* () {
        const store = yield* makeRedisStore(storeOptions(server.url, "restart"))
        const { cache, beforeRequest, afterResponse } = yield* warmCache(store)
        expect(yield* beforeRequest(makeContext({ request: chatRequest("warm") }))).toBeDefined()

        yield* Effect.promise(() => server.stop())

        // Fifty requests while Redis is down: every one goes on uncached, as a bypass, at once.
        const contexts = Array.from({ length: 50 }, () => makeContext({ request: chatRequest("warm") }))
        const decisions = yield* Effect.all(contexts.map((context) => beforeRequest(context)), { concurrency: "unbounded" }).pipe(
          Effect.timeout(FAIL_OPEN_WINDOW)
        )
        expect(decisions).toHaveLength(50)
        expect(decisions.every((decision) => decision === undefined)).toBe(true)
        expect(contexts.every((context) => context.record.cacheStatus === "bypass")).toBe(true)
        for (const context of contexts) yield* afterResponse(context, okOutcome(completion, entry.usage))
        // The circuit breaker opens after the first failures, and skips the rest without a command.
        expect(cache.stats().lookupFailures + cache.stats().lookupsSkipped).toBe(50)
        expect(cache.stats().storeFailures + cache.stats().storesSkipped).toBe(50)
        expect(store.stats().commandFailures).toBe(cache.stats().lookupFailures + cache.stats().storeFailures)
        expect(store.stats().circuit).not.toBe("closed")
        expect(store.stats().disconnects).toBe(1)
        expect(store.stats().status).not.toBe("ready")

        const restarted = yield* Effect.promise(() => startRedisServer(server.port))
        yield* Effect.addFinalizer(() => Effect.promise(() => restarted.stop()))

        // The private server keeps nothing across restarts, so the entry is stored anew.
        yield* eventually(store.set("after-restart", entry, 60_000), 10_000)
        expect(yield* store.get("after-restart")).toEqual(entry)
        expect(store.stats().status).toBe("ready")
        const again = makeContext({ request: chatRequest("warm") })
        yield* beforeRequest(again)
        yield* afterResponse(again, okOutcome(completion, entry.usage))
        expect(yield* beforeRequest(makeContext({ request: chatRequest("warm") }))).toBeDefined()
      })
    ))

  it.live("closes the breaker without traffic", () => {
    const messages: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ message }) => {
        messages.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
    )

    return withServer((server) =>
      Effect.gen(function* () {
        const store = yield* makeRedisStore(storeOptions(server.url, "quiet-recovery"))
        yield* store.set("k1", entry, 60_000)

        yield* Effect.promise(() => server.stop())
        for (let i = 0; i < 3; i++) yield* Effect.either(store.get("k1"))
        expect(store.stats().circuit).toBe("open")

        const restarted = yield* Effect.promise(() => startRedisServer(server.port))
        yield* Effect.addFinalizer(() => Effect.promise(() => restarted.stop()))
        // No command for longer than the default breaker's longest open interval (5 s), as on a quiet gateway.
        yield* Effect.sleep("6 seconds")

        expect(store.stats().circuit).toBe("closed")
        // The restarted server kept nothing, so the first lookup is a plain miss rather than a skip.
        expect(yield* Effect.either(store.get("k1"))).toEqual(Either.right(undefined))
        expect(messages).toContain(
          "The Redis connection is ready again; the cache uses it once the circuit breaker's next probe succeeds."
        )
        expect(messages).toContain("Redis responded to the probe command, so the cache uses Redis again.")
      })
    ).pipe(Effect.provide(logger))
  })

  it.live("times out lookups on a stalled Redis", () =>
    withServer((server) =>
      Effect.gen(function* () {
        const store = yield* makeRedisStore(storeOptions(server.url, "stall"))
        yield* store.set("k1", entry, 60_000)
        server.process.kill("SIGSTOP")
        yield* Effect.addFinalizer(() => Effect.sync(() => server.process.kill("SIGCONT")))

        const started = Date.now()
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.either(store.get("k1"))),
          { concurrency: "unbounded" }
        ).pipe(Effect.timeout(FAIL_OPEN_WINDOW))
        const elapsedMs = Date.now() - started

        expect(results).toHaveLength(20)
        for (const result of results) expect(result).toMatchObject({ _tag: "Left", left: { reason: "timeout" } })
        expect(elapsedMs).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20)
        expect(store.stats().commandFailures).toBe(20)

        server.process.kill("SIGCONT")
        expect(yield* eventually(store.get("k1"), 5_000)).toEqual(entry)
      })
    ))

  it.live("starts without Redis and connects when it appears", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const options = { ...storeOptions(`redis://127.0.0.1:${port}`, "late"), connectTimeoutMs: 300 }

      const store = yield* makeRedisStore(options)

      const missing = yield* Effect.either(store.get("k1"))
      expect(missing).toMatchObject({ _tag: "Left", left: { reason: "unavailable" } })

      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startRedisServer(port)),
        (started) => Effect.promise(() => started.stop())
      )
      yield* eventually(store.set("k1", entry, 60_000), 10_000)
      expect(yield* store.get("k1")).toEqual(entry)
      expect(server.port).toBe(port)
    }).pipe(Effect.scoped))
})

describe("RedisStore behind a paused proxy", () => {
  /** The `fluxen_cache_redis_up` value that `GET /metrics` would show. */
  const redisUp = (cache: ReturnType<typeof makeCacheHooks>, store: RedisStore) =>
    cacheMetrics(cache.stats(), { kind: "redis", stats: store.stats() }).find((metric) => metric.name === "fluxen_cache_redis_up")?.samples[0]?.value

  it.live("interrupted commands open the breaker", () =>
    withServer((server) =>
      Effect.gen(function* () {
        const proxy = yield* startTcpProxy(server.port)
        const store = yield* makeRedisStore(storeOptions(`redis://127.0.0.1:${proxy.port}`, "interrupted"))
        yield* store.set("k1", entry, 60_000)

        yield* proxy.pause
        // A caller's timeout shorter than the command timeout interrupts each command, as a short hook timeout does.
        for (let i = 0; i < 3; i++) yield* Effect.either(store.get("k1").pipe(Effect.timeout("20 millis")))

        expect(store.stats().circuit).toBe("open")
        yield* proxy.resume
      })
    ))

  it.live("skips a hung Redis, then hits again", () => {
    // The `circuit.state` annotation of each log line that has one: the breaker's state changes.
    const circuitLogs: Array<unknown> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations }) => {
        Option.map(HashMap.get(annotations, "circuit.state"), (state) => circuitLogs.push(state))
      })
    )

    return withServer((server) =>
      Effect.gen(function* () {
        const proxy = yield* startTcpProxy(server.port)
        const store = yield* makeRedisStore(storeOptions(`redis://127.0.0.1:${proxy.port}`, "hung"))
        const { cache, beforeRequest } = yield* warmCache(store)
        expect(redisUp(cache, store)).toBe(1)

        yield* proxy.pause
        // Sent while Redis hangs: the SET times out, but Redis applies it on resume.
        const timedOut = yield* Effect.either(store.set("sent-while-hung", entry, 60_000))
        const latenciesMs: Array<number> = []
        const statuses: Array<unknown> = []
        // Requests for longer than the breaker's first open interval, so a probe falls among them.
        const pausedAt = performance.now()
        while (performance.now() - pausedAt < 1_200) {
          yield* Effect.sleep("20 millis")
          const context = makeContext({ request: chatRequest("warm") })
          const started = performance.now()
          yield* beforeRequest(context)
          latenciesMs.push(performance.now() - started)
          statuses.push(context.record.cacheStatus)
        }

        expect(timedOut).toMatchObject({ _tag: "Left", left: { reason: "timeout" } })
        expect(statuses.every((status) => status === "bypass")).toBe(true)
        // The SET and two lookups time out. The breaker skips every later lookup, and probes in the background.
        expect(latenciesMs.slice(0, 2).every((ms) => ms >= COMMAND_TIMEOUT_MS - 20)).toBe(true)
        expect(Math.max(...latenciesMs.slice(2))).toBeLessThan(COMMAND_TIMEOUT_MS / 4)
        expect(redisUp(cache, store)).toBe(0)
        expect(cache.stats().lookupsSkipped).toBe(statuses.length - 2)
        expect(circuitLogs).toEqual(["open"])

        yield* proxy.resume
        const hit = yield* eventually(
          Effect.flatMap(beforeRequest(makeContext({ request: chatRequest("warm") })), (decision) =>
            decision === undefined ? Effect.fail("not a hit") : Effect.succeed(decision)),
          10_000
        )

        expect(hit).toBeDefined()
        expect(redisUp(cache, store)).toBe(1)
        expect(circuitLogs).toEqual(["open", "closed"])
        expect(yield* store.get("sent-while-hung")).toEqual(entry)
      })
    ).pipe(Effect.provide(logger))
  })
})
