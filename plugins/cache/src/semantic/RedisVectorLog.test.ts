import { afterAll, describe, expect, it } from "@effect/vitest"
import { HttpTransport, Plugin, PluginHost, type RequestHooks } from "@fluxen/sdk"
import { makeFetchTransport } from "@fluxen/sdk/testing"
import { Context, Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { Redis } from "ioredis"
import { CacheConfig } from "../CacheConfig.js"
import { cacheLayer } from "../index.js"
import { makeContext, okOutcome, readFixture } from "../testing/fixtures.js"
import { deleteKeys, freePort, sharedRedisUrl, startRedisServer, uniqueKeyPrefix } from "../testing/redisServer.js"
import { randomUnitVector, seededRandom } from "../testing/vectors.js"
import { decodeVector, encodeVector, makeRedisVectorLog, type RedisVectorLogOptions } from "./RedisVectorLog.js"
import { VECTOR_STREAM_SUFFIX } from "./startSemanticCache.js"
import { guardOf } from "./TurnGuard.js"
import type { VectorEntry } from "./VectorIndex.js"

const usedPrefixes: Array<string> = []
const newPrefix = (label: string) => {
  const prefix = uniqueKeyPrefix(label)
  usedPrefixes.push(prefix)
  return prefix
}

afterAll(async () => {
  for (const prefix of usedPrefixes) await deleteKeys(sharedRedisUrl, prefix)
})

const random = seededRandom(21)

const logOptions = (url: string, prefix: string, overrides: Partial<RedisVectorLogOptions> = {}): RedisVectorLogOptions => ({
  url: Redacted.make(url),
  streamKey: `${prefix}${VECTOR_STREAM_SUFFIX}`,
  connectTimeoutMs: 1_000,
  commandTimeoutMs: 1_000,
  pollIntervalMs: 50,
  maxEntries: 1_000,
  maxTtlMs: 3_600_000,
  ...overrides
})

const entry = (id: string, expiresAt = Date.now() + 60_000): VectorEntry => ({ id, partition: "p", vector: randomUnitVector(random, 8), expiresAt })

/** Polls `effect` until it succeeds, for up to `timeoutMs`. */
const eventually = <A, E>(effect: Effect.Effect<A, E>, timeoutMs = 5_000) =>
  effect.pipe(Effect.retry(Schedule.spaced("50 millis")), Effect.timeout(Duration.millis(timeoutMs)))

const withRawClient = <A>(url: string, use: (client: Redis) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(url)),
    (client) => Effect.promise(() => use(client)),
    (client) => Effect.sync(() => client.disconnect())
  )

describe("vector encoding", () => {
  it("round-trips float32 values", () => {
    const vector = new Float32Array([0.25, -1.5, 3.4028234663852886e38, 0])

    expect(decodeVector(encodeVector(vector))).toEqual(vector)
  })

  it("rejects text that is not whole floats", () => {
    expect(decodeVector(Buffer.from([1, 2, 3]).toString("base64"))).toBeUndefined()
    expect(decodeVector("")).toBeUndefined()
  })
})

describe("RedisVectorLog", () => {
  it.live("delivers appended entries to every reader", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("log")
      const receivedA: Array<VectorEntry> = []
      const receivedB: Array<VectorEntry> = []
      const a = yield* makeRedisVectorLog(logOptions(sharedRedisUrl, prefix), (received) => void receivedA.push(received))
      yield* makeRedisVectorLog(logOptions(sharedRedisUrl, prefix), (received) => void receivedB.push(received))
      const sent = entry("key-1")

      yield* a.append(sent)

      yield* eventually(Effect.suspend(() => (receivedB.length === 1 && receivedA.length === 1 ? Effect.void : Effect.fail("waiting"))))
      expect(receivedB[0]).toEqual(sent)
      expect(a.stats()).toMatchObject({ status: "ready", appended: 1, appendFailures: 0 })
    }).pipe(Effect.scoped))

  it.live("loads existing entries at startup and skips expired ones", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("load")
      const options = logOptions(sharedRedisUrl, prefix, { maxEntries: 5_000 })
      const writer = yield* makeRedisVectorLog(options, () => {})
      yield* writer.append(entry("expired", Date.now() - 1))
      for (let i = 0; i < 1_200; i++) yield* writer.append(entry(`live-${i}`))

      const loaded: Array<string> = []
      // More than one page of 500 entries.
      const reader = yield* makeRedisVectorLog(options, (received) => void loaded.push(received.id))

      yield* eventually(Effect.suspend(() => (loaded.length === 1_200 ? Effect.void : Effect.fail("waiting"))))
      expect(loaded).not.toContain("expired")
      expect(reader.stats()).toMatchObject({ received: 1_201 })
    }).pipe(Effect.scoped), { timeout: 30_000 })

  it.live("keeps the stream at maxEntries with an expiry", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("trim")
      const options = logOptions(sharedRedisUrl, prefix, { maxEntries: 5, maxTtlMs: 60_000 })
      const log = yield* makeRedisVectorLog(options, () => {})

      for (let i = 0; i < 12; i++) yield* log.append(entry(`k${i}`))

      const [length, ttl] = yield* withRawClient(sharedRedisUrl, (client) => Promise.all([client.xlen(options.streamKey), client.pttl(options.streamKey)]))
      expect(length).toBe(5)
      expect(ttl).toBeGreaterThan(55_000)
      expect(ttl).toBeLessThanOrEqual(60_000)
    }).pipe(Effect.scoped))

  it.live("skips stream entries that are not vectors", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("invalid")
      const options = logOptions(sharedRedisUrl, prefix)
      yield* withRawClient(sharedRedisUrl, (client) => client.xadd(options.streamKey, "*", "id", "x", "v", "not base64 floats!"))
      const loaded: Array<string> = []

      const log = yield* makeRedisVectorLog(options, (received) => void loaded.push(received.id))

      yield* eventually(Effect.suspend(() => (log.stats().invalidEntries === 1 ? Effect.void : Effect.fail("waiting"))))
      expect(loaded).toEqual([])
    }).pipe(Effect.scoped))

  it.live("round-trips an entry's guard", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("guard")
      const received: Array<VectorEntry> = []
      const log = yield* makeRedisVectorLog(logOptions(sharedRedisUrl, prefix), (entry) => void received.push(entry))
      const sent = { ...entry("guarded"), guard: guardOf("Refund order 48213, not 48219", true) }

      yield* log.append(sent)

      yield* eventually(Effect.suspend(() => (received.length === 1 ? Effect.void : Effect.fail("waiting"))))
      expect(received[0]?.guard).toEqual(sent.guard)
    }).pipe(Effect.scoped))

  it.live("reads entries written without guard", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("unguarded")
      const options = logOptions(sharedRedisUrl, prefix)
      const older = entry("older")
      yield* withRawClient(sharedRedisUrl, (client) =>
        client.xadd(options.streamKey, "*", "id", older.id, "p", older.partition, "x", String(older.expiresAt), "v", encodeVector(older.vector))
      )
      const received: Array<VectorEntry> = []

      const log = yield* makeRedisVectorLog(options, (entry) => void received.push(entry))

      yield* eventually(Effect.suspend(() => (received.length === 1 ? Effect.void : Effect.fail("waiting"))))
      expect(received[0]?.guard).toBeUndefined()
      expect(log.stats().invalidEntries).toBe(0)
    }).pipe(Effect.scoped))

  it.live("fails appends while Redis is down and reads again after", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const server = yield* Effect.acquireRelease(Effect.promise(() => startRedisServer(port)), (started) => Effect.promise(() => started.stop()))
      const received: Array<string> = []
      const log = yield* makeRedisVectorLog(logOptions(server.url, "private:"), (entry) => void received.push(entry.id))
      yield* Effect.promise(() => server.stop())

      const failed = yield* Effect.either(log.append(entry("while-down")))

      expect(failed._tag).toBe("Left")
      expect(log.stats().appendFailures).toBe(1)

      const restarted = yield* Effect.acquireRelease(Effect.promise(() => startRedisServer(port)), (started) => Effect.promise(() => started.stop()))
      yield* eventually(log.append(entry("after-restart")), 10_000)
      yield* eventually(Effect.suspend(() => (received.includes("after-restart") ? Effect.void : Effect.fail("waiting"))), 10_000)
      expect(restarted.port).toBe(port)
    }).pipe(Effect.scoped), { timeout: 30_000 })
})

describe("semantic index shared through Redis", () => {
  const decode = Schema.decodeUnknownSync(CacheConfig)

  const buildInstance = (name: string, prefix: string) =>
    Effect.gen(function* () {
      const config = decode({
        store: "redis",
        redis: { url: sharedRedisUrl, keyPrefix: prefix },
        semantic: { enabled: true, index: { store: "redis", pollInterval: 50 } }
      })
      const host = Layer.merge(
        Layer.succeed(PluginHost, { instanceName: name, packageName: "@fluxen/cache", configDirectory: "/etc/fluxen" }),
        Layer.succeed(HttpTransport, makeFetchTransport())
      )
      const built = yield* Layer.build(cacheLayer(config).pipe(Layer.provide(host)))
      return Context.get(built, Plugin).hooks as Required<Pick<RequestHooks, "beforeRequest" | "afterResponse">>
    })

  const question = (content: string) => ({ model: "gpt-4.1-nano", messages: [{ role: "user" as const, content }] })

  it.live("finds on one instance what another stored", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("shared")
      const first = yield* buildInstance("cache-a", prefix)
      const second = yield* buildInstance("cache-b", prefix)
      const stored = makeContext({ request: question("How do I rotate an API key?") })
      yield* first.beforeRequest(stored)
      yield* first.afterResponse(stored, okOutcome(readFixture("openai/chat-completions/text.json"), undefined))

      const served = yield* eventually(
        Effect.gen(function* () {
          const context = makeContext({ request: question("how do i rotate an api key") })
          const decision = yield* second.beforeRequest(context)
          return decision === undefined ? yield* Effect.fail("not yet shared") : context
        })
      )

      expect(served.record.cacheStatus).toBe("semantic-hit")
      expect(Number(served.responseHeaders["x-fluxen-cache-similarity"])).toBeGreaterThanOrEqual(0.92)
    }).pipe(Effect.scoped))

  it.live("loads the shared index when an instance starts later", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("late")
      const first = yield* buildInstance("cache-a", prefix)
      const stored = makeContext({ request: question("Which regions host the gateway?") })
      yield* first.beforeRequest(stored)
      yield* first.afterResponse(stored, okOutcome(readFixture("openai/chat-completions/text.json"), undefined))

      const late = yield* buildInstance("cache-late", prefix)
      const served = yield* eventually(
        Effect.gen(function* () {
          const context = makeContext({ request: question("which regions host the gateway") })
          const decision = yield* late.beforeRequest(context)
          return decision === undefined ? yield* Effect.fail("not loaded yet") : context
        })
      )

      expect(served.record.cacheStatus).toBe("semantic-hit")
    }).pipe(Effect.scoped))

  it.live("older unguarded entries never hit", () =>
    Effect.gen(function* () {
      const prefix = newPrefix("older")
      const streamKey = `${prefix}${VECTOR_STREAM_SUFFIX}`
      const first = yield* buildInstance("cache-a", prefix)
      const older = makeContext({ request: question("Which regions host the gateway?") })
      yield* first.beforeRequest(older)
      yield* first.afterResponse(older, okOutcome(readFixture("openai/chat-completions/text.json"), undefined))
      // Rewrites the stream as a version without guards wrote it: the same entry without `f` and `w`.
      yield* withRawClient(sharedRedisUrl, async (client) => {
        const [[, fields]] = (await client.xrange(streamKey, "-", "+")) as [[string, Array<string>]]
        const withoutGuard: Array<string> = []
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (fields[i] !== "f" && fields[i] !== "w") withoutGuard.push(fields[i]!, fields[i + 1]!)
        }
        await client.del(streamKey)
        await client.xadd(streamKey, "*", ...withoutGuard)
      })
      const newer = makeContext({ request: question("How do I rotate an API key?") })
      yield* first.beforeRequest(newer)
      yield* first.afterResponse(newer, okOutcome(readFixture("openai/chat-completions/text.json"), undefined))

      // The late instance reads the stream in order, so once the newer entry hits, the older one has been read.
      const late = yield* buildInstance("cache-late", prefix)
      yield* eventually(
        Effect.gen(function* () {
          const decision = yield* late.beforeRequest(makeContext({ request: question("how do i rotate an api key") }))
          return decision === undefined ? yield* Effect.fail("not loaded yet") : decision
        })
      )
      const rephrased = makeContext({ request: question("which regions host the gateway") })
      yield* late.beforeRequest(rephrased)

      expect(rephrased.record.cacheStatus).toBe("miss")
    }).pipe(Effect.scoped))
})
