import { afterAll, describe, expect, it } from "@effect/vitest"
import { HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { makeFetchTransport } from "@fluxen/sdk/testing"
import { Context, Effect, Either, Layer, Redacted, Schema } from "effect"
import definition, { CacheConfig, cacheLayer } from "./index.js"
import { chatRequest, makeContext, okOutcome, readFixture } from "./testing/fixtures.js"
import { deleteKeys, sharedRedisUrl, uniqueKeyPrefix } from "./testing/redisServer.js"

// The host decodes a plugin's section with these options, so the tests do too.
const decodeConfig = Schema.decodeUnknownEither(CacheConfig, { errors: "all", onExcessProperty: "error" })

const HostLive = Layer.merge(
  Layer.succeed(PluginHost, { instanceName: "cache", packageName: "@fluxen/cache", configDirectory: "/etc/fluxen" }),
  Layer.succeed(HttpTransport, makeFetchTransport())
)

const buildPlugin = (config: unknown) =>
  Effect.gen(function* () {
    const decoded = yield* Schema.decodeUnknown(CacheConfig)(config)
    // The layer requires PluginHost and HttpTransport, so no database is provided.
    const built = yield* Layer.build(cacheLayer(decoded).pipe(Layer.provide(HostLive)))
    return Context.get(built, Plugin)
  })

const redisPrefix = uniqueKeyPrefix("plugin")

afterAll(async () => {
  await deleteKeys(sharedRedisUrl, redisPrefix)
})

describe("plugin definition", () => {
  it("declares its name, SDK version and layer", () => {
    expect(definition.name).toBe("@fluxen/cache")
    expect(definition.sdkApiVersion).toBe(SDK_API_VERSION)
    expect(definition.layer).toBe(cacheLayer)
  })

  it("fills defaults for an empty section", () => {
    const decoded = decodeConfig({})

    expect(decoded).toEqual(
      Either.right({
        store: "memory",
        ttl: 3_600_000,
        maxTtl: 86_400_000,
        memory: { maxBytes: 64 * 1_048_576 },
        maxEntryBytes: 1_048_576
      })
    )
  })

  it("reads units and Redis settings", () => {
    const decoded = decodeConfig({
      store: "redis",
      redis: { url: "redis://127.0.0.1:6379/2", keyPrefix: "gw1:", commandTimeout: "150 millis" },
      ttl: "10 minutes",
      maxTtl: "2 hours",
      memory: { maxBytes: "8 MiB" },
      namespace: "shared",
      maxEntryBytes: "256 KiB"
    })

    if (Either.isLeft(decoded)) throw new Error(String(decoded.left))
    const config = decoded.right
    expect(config.ttl).toBe(600_000)
    expect(config.maxTtl).toBe(7_200_000)
    expect(config.memory.maxBytes).toBe(8 * 1_048_576)
    expect(config.maxEntryBytes).toBe(256 * 1_024)
    expect(config.namespace).toBe("shared")
    expect(Redacted.value(config.redis!.url)).toBe("redis://127.0.0.1:6379/2")
    expect(String(config.redis!.url)).not.toContain("127.0.0.1")
    expect(config.redis).toMatchObject({ keyPrefix: "gw1:", connectTimeout: 2_000, commandTimeout: 150 })
  })

  const invalid: ReadonlyArray<readonly [string, unknown, string]> = [
    ["redis store without redis", { store: "redis" }, "redis"],
    ["ttl above maxTtl", { ttl: "2 days" }, "maxTtl"],
    ["zero ttl", { ttl: 0 }, "Expected a duration of at least 1 millisecond"],
    ["ttl past 10 years", { ttl: "3651 days", maxTtl: Number.POSITIVE_INFINITY }, "at most 315360000000 milliseconds (10 years)"],
    [
      "endless Redis connect timeout",
      { store: "redis", redis: { url: "redis://127.0.0.1:6379", connectTimeout: Number.POSITIVE_INFINITY } },
      "at most 2147483647 milliseconds"
    ],
    [
      "Redis command timeout past 24.8 days",
      { store: "redis", redis: { url: "redis://127.0.0.1:6379", commandTimeout: "25 days" } },
      "at most 2147483647 milliseconds"
    ],
    ["zero poll interval", { semantic: { enabled: true, index: { pollInterval: 0 } } }, "at least 1 millisecond"],
    ["endless embed timeout", { semantic: { enabled: true, embedTimeout: Number.POSITIVE_INFINITY } }, "at most 2147483647 milliseconds"],
    ["unknown duration", { ttl: "soon" }, "Expected a duration"],
    ["non-Redis URL", { store: "redis", redis: { url: "http://127.0.0.1:6379" } }, "url"],
    ["invalid namespace", { namespace: "two words" }, "namespace"],
    ["unknown key", { ttls: "1 hour" }, "ttls"],
    ["threshold above 1", { semantic: { enabled: true, threshold: 1.5 } }, "threshold"],
    ["zero threshold", { semantic: { enabled: true, threshold: 0 } }, "threshold"],
    ["unknown embedder", { semantic: { enabled: true, embedder: { type: "word2vec" } } }, "embedder"],
    ["onnx embedder without a directory", { semantic: { enabled: true, embedder: { type: "onnx" } } }, "modelDirectory"],
    ["provider embedder without a model", { semantic: { enabled: true, embedder: { type: "provider", baseUrl: "http://127.0.0.1:8080/v1" } } }, "model"],
    [
      "shared index over a memory store",
      { semantic: { enabled: true, index: { store: "redis" } } },
      "semantic.index.store is redis, but store is memory"
    ],
    ["zero maxEntries", { semantic: { enabled: true, index: { maxEntries: 0 } } }, "maxEntries"]
  ]
  for (const [name, section, mentioned] of invalid) {
    it(`rejects ${name}`, () => {
      const decoded = decodeConfig(section)

      expect(Either.isLeft(decoded)).toBe(true)
      if (Either.isLeft(decoded)) expect(decoded.left.message).toContain(mentioned)
    })
  }

  it("fills semantic defaults", () => {
    const decoded = decodeConfig({ semantic: { enabled: true } })

    if (Either.isLeft(decoded)) throw new Error(String(decoded.left))
    expect(decoded.right.semantic).toEqual({
      enabled: true,
      threshold: 0.92,
      embedTimeout: 1_000,
      embedder: { type: "lexical", dimensions: 512 },
      index: { store: "memory", maxEntries: 100_000, pollInterval: 500 }
    })
  })

  it("rejects a niceness outside 0 to 19", () => {
    const decode = (niceness: number) =>
      decodeConfig({ semantic: { enabled: true, embedder: { type: "onnx", modelDirectory: "models/minilm", niceness } } })

    expect(Either.isLeft(decode(20))).toBe(true)
    expect(Either.isLeft(decode(-1))).toBe(true)
    expect(Either.isRight(decode(19))).toBe(true)
  })

  it("reads each embedder's settings", () => {
    const onnx = decodeConfig({ semantic: { enabled: true, embedder: { type: "onnx", modelDirectory: "models/minilm" } } })
    const provider = decodeConfig({
      semantic: {
        enabled: true,
        embedder: { type: "provider", baseUrl: "http://127.0.0.1:8080/v1", model: "text-embedding-3-small", apiKey: "sk-cache", dimensions: 256 },
        index: { ttl: "10 minutes", maxEntries: 5_000 }
      }
    })

    if (Either.isLeft(onnx)) throw new Error(String(onnx.left))
    if (Either.isLeft(provider)) throw new Error(String(provider.left))
    expect(onnx.right.semantic?.embedder).toEqual({
      type: "onnx",
      modelDirectory: "models/minilm",
      maxTokens: 256,
      workers: 2,
      threadsPerWorker: 1,
      niceness: 19
    })
    const embedder = provider.right.semantic?.embedder
    if (embedder?.type !== "provider") throw new Error("Expected the provider embedder")
    expect(embedder).toMatchObject({ model: "text-embedding-3-small", dimensions: 256, timeout: 10_000 })
    expect(Redacted.value(embedder.apiKey!)).toBe("sk-cache")
    expect(provider.right.semantic?.index).toEqual({ store: "memory", maxEntries: 5_000, ttl: 600_000, pollInterval: 500 })
  })

  it.scoped("builds a semantic cache", () =>
    Effect.gen(function* () {
      const plugin = yield* buildPlugin({ semantic: { enabled: true } })
      const hooks = plugin.hooks!
      const completion = readFixture("openai/chat-completions/text.json")

      const first = makeContext({ request: chatRequest("How do I reset my password?") })
      yield* hooks.beforeRequest!(first)
      yield* hooks.afterResponse!(first, okOutcome(completion, undefined))
      const second = makeContext({ request: chatRequest("how do I reset my password") })
      const decision = yield* hooks.beforeRequest!(second)

      expect(decision?.respond._tag).toBe("Json")
      expect(second.record.cacheStatus).toBe("semantic-hit")
    }))

  it.scoped("builds a memory cache", () =>
    Effect.gen(function* () {
      const plugin = yield* buildPlugin({})
      const hooks = plugin.hooks!
      const completion = readFixture("openai/chat-completions/text.json")

      const first = makeContext({ request: chatRequest("memory plugin") })
      yield* hooks.beforeRequest!(first)
      yield* hooks.afterResponse!(first, okOutcome(completion, undefined))
      const decision = yield* hooks.beforeRequest!(makeContext({ request: chatRequest("memory plugin") }))

      expect(hooks.needsAssembledStream).toBe(true)
      expect(plugin.provider).toBeUndefined()
      expect(decision?.respond._tag).toBe("Json")
    }))

  it.live("builds a Redis cache", () =>
    Effect.gen(function* () {
      const plugin = yield* buildPlugin({ store: "redis", redis: { url: sharedRedisUrl, keyPrefix: redisPrefix } })
      const hooks = plugin.hooks!
      const completion = readFixture("openai/chat-completions/text.json")

      const first = makeContext({ request: chatRequest("redis plugin") })
      yield* hooks.beforeRequest!(first)
      yield* hooks.afterResponse!(first, okOutcome(completion, undefined))
      const decision = yield* hooks.beforeRequest!(makeContext({ request: chatRequest("redis plugin") }))

      expect(decision?.respond._tag).toBe("Json")
    }).pipe(Effect.scoped))
})
