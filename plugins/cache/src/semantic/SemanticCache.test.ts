import { describe, expect, it } from "@effect/vitest"
import { usageFromOpenAI, type ChatCompletion, type ChatRequest, type RequestContext } from "@fluxen/sdk"
import { Effect, TestClock } from "effect"
import { vi } from "vitest"
import { CACHE_STATUS_HEADER, makeCacheHooks } from "../CacheHooks.js"
import { CacheStoreError, type CacheStore } from "../CacheStore.js"
import { makeMemoryStore } from "../MemoryStore.js"
import { assembleWithOpenAI, collectEvents, essentials, makeContext, okOutcome, readFixture, type ContextOptions } from "../testing/fixtures.js"
import { EmbeddingError, type Embedder } from "./Embedder.js"
import { lexicalVector, makeLexicalEmbedder } from "./LexicalEmbedder.js"
import { makeSemanticCache, partitionOf, SIMILARITY_ATTRIBUTE, SIMILARITY_HEADER, userTurnText, type SemanticCacheOptions } from "./SemanticCache.js"
import { DEFAULT_THRESHOLD } from "./SemanticConfig.js"
import { VectorIndex } from "./VectorIndex.js"

const HOUR = 3_600_000
const completion = readFixture("openai/chat-completions/text.json") as ChatCompletion
const usage = usageFromOpenAI(completion.usage)!

const SYSTEM = { role: "system" as const, content: "You answer questions about Fluxen in one sentence." }

/** A chat request: the system prompt, `earlier` turns, then the user turn `question`. */
const conversation = (question: string, earlier: ChatRequest["messages"] = [], extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "gpt-4.1-nano",
  messages: [SYSTEM, ...earlier, { role: "user", content: question }],
  ...extra
})

/** Makes a memory store whose lookups fail while `failing.get` is true, as a Redis store's do while Redis is down. */
const makeFlakyStore = () => {
  const inner = makeMemoryStore({ maxBytes: 16 * 1_048_576 })
  const failing = { get: false }
  const store: CacheStore = {
    kind: "redis",
    get: (key) =>
      failing.get ? Effect.fail(new CacheStoreError({ operation: "get", reason: "unavailable", message: "Redis is down" })) : inner.get(key),
    set: inner.set
  }
  return { store, failing }
}

/** Makes the hooks with the test's clock, so that `TestClock.adjust` ages and expires entries. */
const makeCache = (overrides: Partial<SemanticCacheOptions> = {}, store: CacheStore = makeMemoryStore({ maxBytes: 16 * 1_048_576 })) =>
  Effect.map(Effect.clock, (clock) => {
    const index = new VectorIndex({ maxEntries: 1_000 })
    const semantic = makeSemanticCache({
      pluginName: "cache",
      embedder: makeLexicalEmbedder({ dimensions: 512 }),
      index,
      log: undefined,
      threshold: 0.92,
      embedTimeoutMs: 1_000,
      indexTtlMs: undefined,
      ...overrides
    })
    const cache = makeCacheHooks({ pluginName: "cache", store, ttlMs: HOUR, maxTtlMs: 24 * HOUR, namespace: undefined, maxEntryBytes: 1_048_576, semantic, clock })
    const { beforeRequest, afterResponse } = cache.hooks
    if (beforeRequest === undefined || afterResponse === undefined) throw new Error("The cache must provide both hooks.")
    return { beforeRequest, afterResponse, stats: cache.stats, semantic, index, store }
  })

type Cache = Effect.Effect.Success<ReturnType<typeof makeCache>>

/** Sends a request through the hooks. On a miss, the recorded completion plays the upstream's response. */
const send = (cache: Cache, options: ContextOptions) =>
  Effect.gen(function* () {
    const context = makeContext(options)
    const decision = yield* cache.beforeRequest(context)
    if (decision === undefined) yield* cache.afterResponse(context, okOutcome(completion, usage))
    return { context, decision }
  })

const statusOf = (context: RequestContext) => context.record.cacheStatus

describe("semantic cache hooks", () => {
  it.effect("serves a near duplicate as a semantic hit", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("How do I rotate an API key?") })
      yield* TestClock.adjust("30 seconds")

      const { context, decision } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(decision?.respond._tag).toBe("Json")
      expect(statusOf(context)).toBe("semantic-hit")
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("semantic-hit")
      expect(context.responseHeaders[SIMILARITY_HEADER]).toMatch(/^(0\.9[2-9]\d\d|1\.0000)$/)
      expect(context.attributes.get(SIMILARITY_ATTRIBUTE)).toBeGreaterThanOrEqual(0.92)
      expect(context.responseHeaders["age"]).toBe("30")
      expect(cache.stats()).toMatchObject({ hits: 0, semanticHits: 1, misses: 1 })
    }))

  it.effect("prefers the exact hit", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("How do I rotate an API key?") })

      const { context } = yield* send(cache, { request: conversation("How do I rotate an API key?") })

      expect(statusOf(context)).toBe("hit")
      expect(context.responseHeaders[SIMILARITY_HEADER]).toBeUndefined()
      expect(cache.semantic.stats().lookups).toBe(1)
    }))

  it.effect("replays a semantic hit as a stream", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("Which regions host the gateway?") })

      const { context, decision } = yield* send(cache, { request: conversation("which regions host the gateway"), stream: true })

      if (decision?.respond._tag !== "Stream") throw new Error("Expected a streamed hit")
      const events = yield* Effect.promise(() => collectEvents(decision.respond._tag === "Stream" ? decision.respond.events : []))
      const replayed = yield* Effect.promise(() => assembleWithOpenAI(events))
      expect(essentials(replayed)).toEqual(essentials(completion))
      expect(statusOf(context)).toBe("semantic-hit")
    }))

  it.effect("misses after a different earlier turn", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const earlierA = [
        { role: "user" as const, content: "I use the Redis store." },
        { role: "assistant" as const, content: "Noted." }
      ]
      const earlierB = [
        { role: "user" as const, content: "I use the memory store." },
        { role: "assistant" as const, content: "Noted." }
      ]
      yield* send(cache, { request: conversation("How do I clear the cache?", earlierA) })

      const other = yield* send(cache, { request: conversation("how do I clear the cache", earlierB) })
      const same = yield* send(cache, { request: conversation("how do I clear the cache", earlierA) })

      expect(statusOf(other.context)).toBe("miss")
      expect(statusOf(same.context)).toBe("semantic-hit")
    }))

  const partitionChanges: ReadonlyArray<readonly [string, ContextOptions]> = [
    ["a different system prompt", { request: { ...conversation("How do I clear the cache?"), messages: [{ role: "system", content: "Answer in French." }, { role: "user", content: "how do i clear the cache" }] } }],
    ["a different temperature", { request: conversation("how do i clear the cache", [], { temperature: 0.2 }) }],
    ["tools", { request: conversation("how do i clear the cache", [], { tools: [{ type: "function", function: { name: "clear", parameters: {} } }] }) }],
    ["a response format", { request: conversation("how do i clear the cache", [], { response_format: { type: "json_object" } }) }],
    ["another team", { request: conversation("how do i clear the cache"), team: "other-team" }],
    ["another upstream model", { request: conversation("how do i clear the cache"), upstreamModel: "gpt-4.1-mini" }],
    ["a sub-namespace", { request: conversation("how do i clear the cache"), headers: { "x-fluxen-cache-namespace": "tenant-b" } }],
    ["a named user turn", { request: { ...conversation("x"), messages: [SYSTEM, { role: "user", content: "how do i clear the cache", name: "ops" }] } }]
  ]
  for (const [name, options] of partitionChanges) {
    it.effect(`misses with ${name}`, () =>
      Effect.gen(function* () {
        const cache = yield* makeCache()
        yield* send(cache, { request: conversation("How do I clear the cache?"), team: "team-a" })

        const { context } = yield* send(cache, { team: "team-a", ...options })

        expect(statusOf(context)).toBe("miss")
      }))
  }

  it.effect("misses below the threshold", () =>
    Effect.gen(function* () {
      const strict = yield* makeCache({ threshold: 0.95 })
      const lenient = yield* makeCache({ threshold: 0.6 })
      for (const cache of [strict, lenient]) yield* send(cache, { request: conversation("How do I reset my password?") })

      const strictResult = yield* send(strict, { request: conversation("How can I reset my password?") })
      const lenientResult = yield* send(lenient, { request: conversation("How can I reset my password?") })

      expect(statusOf(strictResult.context)).toBe("miss")
      expect(statusOf(lenientResult.context)).toBe("semantic-hit")
      const similarity = Number(lenientResult.context.responseHeaders[SIMILARITY_HEADER])
      expect(similarity).toBeGreaterThanOrEqual(0.6)
      expect(similarity).toBeLessThan(0.95)
    }))

  it.effect("misses a different question", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("How do I reset my password?") })

      const { context } = yield* send(cache, { request: conversation("Which regions host the gateway?") })

      expect(statusOf(context)).toBe("miss")
    }))

  it.effect("expires with the response", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("How do I rotate an API key?"), headers: { "x-fluxen-cache-ttl": "60" } })
      yield* TestClock.adjust("61 seconds")

      const { context } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(statusOf(context)).toBe("miss")
    }))

  it.effect("expires at the index ttl", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache({ indexTtlMs: 10_000 })
      yield* send(cache, { request: conversation("How do I rotate an API key?") })
      yield* TestClock.adjust("11 seconds")

      const { context } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(statusOf(context)).toBe("miss")
      expect(cache.index.stats().expirations).toBe(1)
    }))

  it.effect("drops a vector whose response is gone", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const first = yield* send(cache, { request: conversation("How do I rotate an API key?") })
      const key = (first.context.attributes.get("@fluxen/cache/cache/pending") as { key: string }).key
      // Overwrite the stored response with one that expires at once.
      yield* cache.store.set(key, { storedAt: 0, body: "{}" }, 1)
      yield* TestClock.adjust("1 second")

      const { context } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(statusOf(context)).toBe("miss")
      expect(cache.semantic.stats().staleMatches).toBe(1)
    }))

  it.effect("keeps a vector while the store fails", () =>
    Effect.gen(function* () {
      const flaky = makeFlakyStore()
      const cache = yield* makeCache({}, flaky.store)
      yield* send(cache, { request: conversation("How do I rotate an API key?") })
      flaky.failing.get = true

      const duringFailure = yield* cache.beforeRequest(makeContext({ request: conversation("how do i rotate an api key") }))
      flaky.failing.get = false
      const { context } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(duringFailure).toBeUndefined()
      expect(statusOf(context)).toBe("semantic-hit")
      expect(cache.semantic.stats().staleMatches).toBe(0)
      // The exact lookup failed, so the semantic index, which leads to the same store, was not asked.
      expect(cache.stats().lookupFailures).toBe(1)
    }))

  it.effect("indexes a response fetched with no-cache", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* send(cache, { request: conversation("How do I rotate an API key?"), headers: { "cache-control": "no-cache" } })

      const { context } = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(statusOf(context)).toBe("semantic-hit")
    }))

  it.effect("skips a user turn with an image", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const withImage: ChatRequest = {
        model: "gpt-4.1-nano",
        messages: [
          SYSTEM,
          { role: "user", content: [{ type: "text", text: "What is in this picture?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] }
        ]
      }
      yield* send(cache, { request: withImage })

      expect(cache.semantic.stats()).toMatchObject({ lookups: 0, indexed: 0 })
    }))

  it.effect("goes on uncached when embedding fails", () =>
    Effect.gen(function* () {
      const failing: Embedder = {
        kind: "provider",
        id: "failing",
        embed: () => Effect.fail(new EmbeddingError({ embedder: "provider", reason: "upstream", message: "HTTP 503" }))
      }
      const cache = yield* makeCache({ embedder: failing })

      const first = yield* send(cache, { request: conversation("How do I rotate an API key?") })
      const second = yield* send(cache, { request: conversation("how do i rotate an api key") })

      expect(statusOf(first.context)).toBe("miss")
      expect(statusOf(second.context)).toBe("miss")
      // Each request fails twice: at the lookup, and again when its response is stored.
      expect(cache.semantic.stats()).toMatchObject({ embeddingFailures: 4, indexed: 0 })
    }))

  it.live("goes on uncached when embedding is slow", () =>
    Effect.gen(function* () {
      const slow: Embedder = { kind: "onnx", id: "slow", embed: (texts) => Effect.as(Effect.sleep("200 millis"), texts.map(() => new Float32Array([1]))) }
      const cache = yield* makeCache({ embedder: slow, embedTimeoutMs: 20 })

      const { context } = yield* send(cache, { request: conversation("How do I rotate an API key?") })

      expect(statusOf(context)).toBe("miss")
      // Once at the lookup and once when the response is stored.
      expect(cache.semantic.stats()).toMatchObject({ embeddingTimeouts: 2, indexed: 0 })
    }))
})

describe("semantic embedding timeout", () => {
  const semanticWith = (embedder: Embedder) =>
    makeSemanticCache({ pluginName: "cache", embedder, index: new VectorIndex({ maxEntries: 10 }), log: undefined, threshold: 0.9, embedTimeoutMs: 1_000, indexTtlMs: undefined })

  /** Counts the timers that one lookup sets. */
  const timersOfLookup = (embedder: Embedder): number => {
    const semantic = semanticWith(embedder)
    const setTimer = vi.spyOn(globalThis, "setTimeout")
    try {
      Effect.runSync(semantic.lookup({ partition: "p", text: "How do I rotate an API key?" }))
      return setTimer.mock.calls.length
    } finally {
      setTimer.mockRestore()
    }
  }

  it("synchronous embedder: no timer", () => {
    expect(timersOfLookup(makeLexicalEmbedder({ dimensions: 64 }))).toBe(0)
  })

  it("waiting embedder: a timer", () => {
    const { synchronous: _, ...waiting } = makeLexicalEmbedder({ dimensions: 64 })

    expect(timersOfLookup(waiting)).toBeGreaterThan(0)
  })
})

describe("semantic partition", () => {
  it("reads text parts of a user turn", () => {
    expect(userTurnText({ role: "user", content: "plain" })).toBe("plain")
    expect(userTurnText({ role: "user", content: [{ type: "text", text: "one" }, { type: "text", text: "two" }] })).toBe("one\ntwo")
    expect(userTurnText({ role: "user", content: [{ type: "input_audio", input_audio: {} }] })).toBeUndefined()
    expect(userTurnText({ role: "user", content: null })).toBeUndefined()
  })

  it("ignores the latest turn's text and the stream flag", () => {
    const base = { namespace: "team:a", provider: "openai", upstreamModel: "gpt-4.1-nano", embedderId: "lexical:v1:512" }

    const a = partitionOf({ ...base, request: conversation("first wording") })
    const b = partitionOf({ ...base, request: { ...conversation("second wording"), stream: true, user: "u-1" } })
    const c = partitionOf({ ...base, embedderId: "lexical:v1:256", request: conversation("first wording") })

    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(b).toBe(a)
    expect(c).not.toBe(a)
  })
})

/**
 * Pairs of user turns measured with the lexical embedder (512 dimensions).
 * The lexical similarity of each pair is in the comment before it.
 */
const DIFFERENT_QUESTIONS: ReadonlyArray<readonly [string, string]> = [
  // 0.9627, caught by the numbers.
  ["Refund order 48213 placed by the customer last week, the blender arrived damaged", "Refund order 48219 placed by the customer last week, the blender arrived damaged"],
  // 0.9549, caught by the prefixed antonym.
  ["Is it safe to take ibuprofen a few hours after drinking alcohol with dinner?", "Is it unsafe to take ibuprofen a few hours after drinking alcohol with dinner?"],
  // 0.9532, caught by the numbers.
  ["Convert 100 US dollars to euros at today's exchange rate and show the fee", "Convert 900 US dollars to euros at today's exchange rate and show the fee"],
  // 0.9632, caught by the numbers.
  ["My nginx reverse proxy returns error 500 whenever I upload a file larger than the limit", "My nginx reverse proxy returns error 502 whenever I upload a file larger than the limit"],
  // 1.0000, caught by the word order.
  ["Should I buy or sell my shares now?", "Should I sell or buy my shares now?"],
  // 1.0000, caught by the word order.
  ["Why does the dog bite the man?", "Why does the man bite the dog?"]
]

/** Different questions no guard catches; each scores below the default threshold. */
const UNGUARDED_DIFFERENT_QUESTIONS: ReadonlyArray<readonly [string, string]> = [
  // 0.8448
  ["How do I create a branch in git?", "How do I delete a branch in git?"],
  // 0.8519
  ["List the pros of working remotely", "List the cons of working remotely"],
  // 0.8077
  ["Translate good morning into French", "Translate good morning into German"],
  // 0.8485
  ["Is coffee good for your heart?", "Is coffee bad for your heart?"]
]

/** Paraphrases at or above the default threshold, which must still hit. */
const PARAPHRASES: ReadonlyArray<readonly [string, string]> = [
  // 1.0000
  ["What is the capital of France?", "what is the capital of france"],
  // 0.9231
  ["What's the weather like in Paris today?", "What is the weather like in Paris today?"],
  // 0.9410
  ["Write a haiku about autumn leaves", "Write a haiku about the autumn leaves"],
  // 0.9200
  ["Explain how photosynthesis works", "Explain how photosynthesis works, please."]
]

/** Paraphrases below the default threshold, which miss; a higher threshold would only add to them. */
const PARAPHRASES_BELOW_THRESHOLD: ReadonlyArray<readonly [string, string]> = [
  // 0.9037
  ["How do I reverse a list in Python?", "How can I reverse a list in Python?"],
  // 0.8711
  ["Can you summarize this article for me?", "Could you summarize this article for me?"],
  // 0.8946
  ["Give me three tips for better sleep", "Give me three tips for sleeping better"],
  // 0.8751
  ["How do I center a div in CSS?", "How do I center a div with CSS?"]
]

const lexicalSimilarity = (first: string, second: string): number => {
  const a = lexicalVector(first, 512)
  const b = lexicalVector(second, 512)
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!
  return sum
}

/** Stores the response of `stored`, then sends `requested` in the same conversation; returns the second request's status. */
const statusAfter = (stored: string, requested: string) =>
  Effect.gen(function* () {
    const cache = yield* makeCache()
    yield* send(cache, { request: conversation(stored) })
    const { context } = yield* send(cache, { request: conversation(requested) })
    return { status: statusOf(context), stats: cache.semantic.stats() }
  })

describe("semantic hit guards", () => {
  it.effect.each(DIFFERENT_QUESTIONS)("different question misses: %s", ([stored, requested]) =>
    Effect.gen(function* () {
      const { status, stats } = yield* statusAfter(stored, requested)

      expect(lexicalSimilarity(stored, requested)).toBeGreaterThanOrEqual(DEFAULT_THRESHOLD)
      expect(status).toBe("miss")
      expect(stats.guardRejections).toBe(1)
    })
  )

  it.effect.each(PARAPHRASES)("paraphrase still hits: %s", ([stored, requested]) =>
    Effect.gen(function* () {
      const { status } = yield* statusAfter(stored, requested)

      expect(status).toBe("semantic-hit")
    })
  )

  it.each(UNGUARDED_DIFFERENT_QUESTIONS)("unguarded pair below threshold: %s", ([first, second]) => {
    expect(lexicalSimilarity(first, second)).toBeLessThan(DEFAULT_THRESHOLD)
  })

  it.each(PARAPHRASES_BELOW_THRESHOLD)("paraphrase below threshold: %s", ([first, second]) => {
    expect(lexicalSimilarity(first, second)).toBeLessThan(DEFAULT_THRESHOLD)
  })
})
