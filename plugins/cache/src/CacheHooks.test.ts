import { describe, expect, it } from "@effect/vitest"
import {
  usageFromOpenAI,
  type ChatCompletion,
  type HookDecision,
  type JsonResult,
  type Outcome,
  type RequestContext,
  type StreamResult,
  type Usage
} from "@fluxen/sdk"
import { Effect, Exit, TestClock } from "effect"
import { CACHE_STATUS_HEADER, makeCacheHooks, type CacheHooksOptions } from "./CacheHooks.js"
import { CacheStoreError, type CacheStore } from "./CacheStore.js"
import { makeMemoryStore } from "./MemoryStore.js"
import {
  assembleSseFixture,
  assembleWithGateway,
  assembleWithOpenAI,
  chatRequest,
  collectEvents,
  essentials,
  makeContext,
  okOutcome,
  readFixture,
  type ContextOptions
} from "./testing/fixtures.js"

const HOUR = 3_600_000

const textCompletion = readFixture("openai/chat-completions/text.json") as ChatCompletion
const textUsage = usageFromOpenAI(textCompletion.usage)!
const streamedToolCall = assembleSseFixture("openai/chat-completions/tool-call-stream-usage.sse")
const embeddingsBody = readFixture("openai/embeddings/base64.json") as { usage: unknown }
const embeddingsRequest = { model: "text-embedding-3-small", input: "The food was delicious.", encoding_format: "base64" as const }

/** Makes the hooks with the test's clock, so that `TestClock.adjust` ages and expires entries. */
const makeCache = (overrides: Partial<CacheHooksOptions> = {}) =>
  Effect.map(Effect.clock, (clock) => {
    const cache = makeCacheHooks({
      pluginName: "cache",
      store: makeMemoryStore({ maxBytes: 16 * 1_048_576 }),
      ttlMs: HOUR,
      maxTtlMs: 24 * HOUR,
      namespace: undefined,
      maxEntryBytes: 1_048_576,
      clock,
      ...overrides
    })
    const { beforeRequest, afterResponse } = cache.hooks
    if (beforeRequest === undefined || afterResponse === undefined) throw new Error("The cache must provide both hooks.")
    return { stats: cache.stats, beforeRequest, afterResponse }
  })

type Cache = Effect.Effect.Success<ReturnType<typeof makeCache>>

/** Runs one request through the hooks: the upstream (represented by `outcome`) is called only on a miss. */
const serve = (cache: Cache, context: RequestContext, outcome: Outcome) =>
  Effect.gen(function* () {
    const decision = yield* cache.beforeRequest(context)
    yield* cache.afterResponse(context, decision === undefined ? outcome : { ...outcome, answeredByHook: true })
    return decision
  })

const lookUp = (cache: Cache, options: ContextOptions = {}) =>
  Effect.gen(function* () {
    const context = makeContext(options)
    const decision = yield* cache.beforeRequest(context)
    return { context, decision }
  })

const jsonResponse = (decision: HookDecision): JsonResult => {
  if (decision?.respond._tag !== "Json") throw new Error(`Expected a JSON response, got ${decision === undefined ? "a miss" : decision.respond._tag}.`)
  return decision.respond
}

const streamResponse = (decision: HookDecision): StreamResult => {
  if (decision?.respond._tag !== "Stream") throw new Error(`Expected a stream response, got ${decision === undefined ? "a miss" : decision.respond._tag}.`)
  return decision.respond
}

/** Makes a cache whose entry for the default request has `body` in place of the stored response. */
const cacheWithEntry = (body: string) =>
  Effect.gen(function* () {
    const store = makeMemoryStore({ maxBytes: 1_048_576 })
    const cache = yield* makeCache({ store })
    const context = makeContext()
    yield* serve(cache, context, okOutcome(textCompletion, textUsage))
    const key = [...context.attributes.values()].map((value) => (value as { key: string }).key)[0]!
    yield* store.set(key, { storedAt: 0, body }, HOUR)
    return cache
  })

const usageOfEvents = (events: ReadonlyArray<{ readonly usage?: Usage }>) => events.findLast((event) => event.usage !== undefined)?.usage

describe("cache hooks, JSON chat", () => {
  it.effect("misses, stores, then hits", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()

      const first = makeContext()
      const missed = yield* serve(cache, first, okOutcome(textCompletion, textUsage))
      expect(missed).toBeUndefined()
      expect(first.record.cacheStatus).toBe("miss")
      expect(first.responseHeaders[CACHE_STATUS_HEADER]).toBe("miss")
      expect(first.responseHeaders["age"]).toBeUndefined()

      yield* TestClock.adjust("90 seconds")
      const { context, decision } = yield* lookUp(cache)

      const response = jsonResponse(decision)
      expect(response.status).toBe(200)
      expect(response.body).toEqual(textCompletion)
      expect(JSON.parse(new TextDecoder().decode(response.bytes))).toEqual(textCompletion)
      expect(response.usage).toEqual(textUsage)
      expect(context.record.cacheStatus).toBe("hit")
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("hit")
      expect(context.responseHeaders["age"]).toBe("90")
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, stores: 1 })
    }))

  it.effect("serves a stream from JSON", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      const { context, decision } = yield* lookUp(cache, { stream: true })

      const events = yield* Effect.promise(() => collectEvents(streamResponse(decision).events))
      expect(essentials(assembleWithGateway(events))).toEqual(essentials(textCompletion))
      expect(essentials(yield* Effect.promise(() => assembleWithOpenAI(events)))).toEqual(essentials(textCompletion))
      expect(usageOfEvents(events)).toEqual(textUsage)
      expect(events.at(-1)?.done).toBe(true)
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("hit")
      expect(context.responseHeaders["age"]).toBe("0")
    }))
})

describe("cache hooks, streamed chat", () => {
  it.effect("serves JSON from a stream", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ stream: true }), okOutcome(streamedToolCall.completion, streamedToolCall.usage))

      const { decision } = yield* lookUp(cache)

      const response = jsonResponse(decision)
      expect(response.body).toEqual(streamedToolCall.completion)
      expect(response.usage).toEqual(streamedToolCall.usage)
      expect(essentials(response.body).choices[0]?.toolCalls).toHaveLength(1)
    }))

  it.effect("replays a stream as a stream", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ stream: true }), okOutcome(streamedToolCall.completion, streamedToolCall.usage))

      const { decision } = yield* lookUp(cache, { stream: true })

      const result = streamResponse(decision)
      const events = yield* Effect.promise(() => collectEvents(result.events))
      expect(assembleWithGateway(events)).toEqual(streamedToolCall.completion)
      // The host gives after hooks this completion instead of assembling the events again.
      expect(result.completion).toEqual(streamedToolCall.completion)
      expect(usageOfEvents(events)).toEqual(streamedToolCall.usage)
      expect(events.filter((event) => event.usageOnly === true)).toHaveLength(1)
    }))
})

describe("cache hooks, replayed events kept", () => {
  it.effect("second stream hit: same events, own completion", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ stream: true }), okOutcome(streamedToolCall.completion, streamedToolCall.usage))

      const first = streamResponse((yield* lookUp(cache, { stream: true })).decision)
      const firstEvents = yield* Effect.promise(() => collectEvents(first.events))
      const second = streamResponse((yield* lookUp(cache, { stream: true })).decision)
      const secondEvents = yield* Effect.promise(() => collectEvents(second.events))

      expect(secondEvents).toHaveLength(firstEvents.length)
      secondEvents.forEach((event, index) => expect(event).toBe(firstEvents[index]))
      expect(assembleWithGateway(secondEvents)).toEqual(streamedToolCall.completion)
      expect(essentials(yield* Effect.promise(() => assembleWithOpenAI(secondEvents)))).toEqual(essentials(streamedToolCall.completion))
      expect(second.completion).toEqual(first.completion)
      expect(second.completion).not.toBe(first.completion)
    }))
})

describe("cache hooks, outcomes not stored", () => {
  const unfinished: ChatCompletion = {
    ...textCompletion,
    choices: [{ ...textCompletion.choices[0]!, finish_reason: null }]
  }
  const ok = okOutcome(textCompletion, textUsage)
  const cases: ReadonlyArray<readonly [string, Outcome, ContextOptions?]> = [
    ["cancelled", { ...ok, status: "cancelled", httpStatus: 499, response: undefined }],
    ["cancelled stream", { ...ok, status: "cancelled", httpStatus: 499, response: undefined, usage: undefined }, { stream: true }],
    ["cancelled after the body", { ...ok, status: "cancelled", httpStatus: 499 }],
    ["upstream error", { ...ok, status: "error", httpStatus: 502, response: undefined }],
    ["error status with a body", { ...ok, status: "error", httpStatus: 400, response: { error: { message: "bad" } } }],
    ["non-200 success", { ...ok, httpStatus: 201 }],
    ["answered by another hook", { ...ok, answeredByHook: true }],
    ["choice without finish reason", okOutcome(unfinished, textUsage)],
    ["no choices", okOutcome({ ...textCompletion, choices: [] }, textUsage)],
    ["incomplete stream", okOutcome(undefined, textUsage), { stream: true }],
    ["body that is not a completion", okOutcome("plain text", undefined)]
  ]

  for (const [name, outcome, options] of cases) {
    it.effect(`skips a ${name} outcome`, () =>
      Effect.gen(function* () {
        const cache = yield* makeCache()

        yield* serve(cache, makeContext(options), outcome)

        const { decision, context } = yield* lookUp(cache, options)
        expect(decision).toBeUndefined()
        expect(context.record.cacheStatus).toBe("miss")
        expect(cache.stats().stores).toBe(0)
      }))
  }

  for (const [field, value] of [["logprobs", true], ["top_logprobs", 2], ["audio", { voice: "alloy", format: "wav" }], ["modalities", ["text", "audio"]]] as const) {
    it.effect(`skips a stream that asked for ${field}`, () =>
      Effect.gen(function* () {
        const cache = yield* makeCache()
        const options: ContextOptions = { stream: true, request: { ...chatRequest(), [field]: value } }

        yield* serve(cache, makeContext(options), okOutcome(streamedToolCall.completion, streamedToolCall.usage))

        expect((yield* lookUp(cache, options)).decision).toBeUndefined()
        expect(cache.stats().stores).toBe(0)
      }))
  }

  it.effect("stores JSON that asked for logprobs", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const options: ContextOptions = { request: { ...chatRequest(), logprobs: true } }

      yield* serve(cache, makeContext(options), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, options)).decision).toBeDefined()
    }))

  it.effect("skips responses over maxEntryBytes", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache({ maxEntryBytes: 1_000 })

      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache)).decision).toBeUndefined()
      expect(cache.stats()).toMatchObject({ stores: 0, tooLarge: 1 })
    }))

  it.effect("stores a length-limited response", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const truncated = { ...textCompletion, choices: [{ ...textCompletion.choices[0]!, finish_reason: "length" as const }] }

      yield* serve(cache, makeContext(), okOutcome(truncated, textUsage))

      expect(jsonResponse((yield* lookUp(cache)).decision).body).toEqual(truncated)
    }))
})

describe("cache hooks, request headers", () => {
  it.effect("no-cache skips the lookup but stores", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))
      const refreshed = { ...textCompletion, id: "chatcmpl-refreshed" }

      const context = makeContext({ headers: { "Cache-Control": "no-cache" } })
      const decision = yield* serve(cache, context, okOutcome(refreshed, textUsage))

      expect(decision).toBeUndefined()
      expect(context.record.cacheStatus).toBe("bypass")
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("bypass")
      expect(jsonResponse((yield* lookUp(cache)).decision).body).toEqual(refreshed)
    }))

  it.effect.each([
    { name: "max-age=0", headers: { "cache-control": "max-age=0" }, status: "bypass" },
    { name: "quoted max-age=0", headers: { "cache-control": 'max-age="0"' }, status: "bypass" },
    { name: "Pragma no-cache", headers: { pragma: "no-cache" }, status: "bypass" },
    { name: "max-age=60", headers: { "cache-control": "max-age=60" }, status: "hit" },
    { name: "Pragma beside Cache-Control", headers: { "cache-control": "max-age=60", pragma: "no-cache" }, status: "hit" }
  ])("$name gives $status", ({ headers, status }) =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      const context = makeContext({ headers })
      yield* serve(cache, context, okOutcome(textCompletion, textUsage))

      expect(context.record.cacheStatus).toBe(status)
    }))

  it.effect("no-store neither looks up nor stores", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))
      const other = { ...textCompletion, id: "chatcmpl-other" }

      const context = makeContext({ headers: { "cache-control": "max-age=0, No-Store" } })
      const decision = yield* serve(cache, context, okOutcome(other, textUsage))

      expect(decision).toBeUndefined()
      expect(context.record.cacheStatus).toBe("bypass")
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("bypass")
      expect(jsonResponse((yield* lookUp(cache)).decision).body).toEqual(textCompletion)
      expect(cache.stats()).toMatchObject({ stores: 1, bypasses: 1 })
    }))

  it.effect("keeps an entry for the default TTL", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      yield* TestClock.adjust("59 minutes")
      expect((yield* lookUp(cache)).decision).toBeDefined()
      yield* TestClock.adjust("1 minutes")
      expect((yield* lookUp(cache)).decision).toBeUndefined()
    }))

  it.effect("keeps an entry for the TTL header", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ headers: { "x-fluxen-cache-ttl": "10" } }), okOutcome(textCompletion, textUsage))

      yield* TestClock.adjust("9 seconds")
      expect((yield* lookUp(cache)).decision).toBeDefined()
      yield* TestClock.adjust("1 seconds")
      expect((yield* lookUp(cache)).decision).toBeUndefined()
    }))

  it.effect("caps the TTL header at maxTtl", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache({ maxTtlMs: 2 * HOUR })
      yield* serve(cache, makeContext({ headers: { "x-fluxen-cache-ttl": "86400" } }), okOutcome(textCompletion, textUsage))

      yield* TestClock.adjust("119 minutes")
      expect((yield* lookUp(cache)).decision).toBeDefined()
      yield* TestClock.adjust("1 minutes")
      expect((yield* lookUp(cache)).decision).toBeUndefined()
    }))

  for (const value of ["abc", "0", "-5", "1.5", "", "10s", "999999999999"]) {
    it.effect(`rejects TTL header ${JSON.stringify(value)}`, () =>
      Effect.gen(function* () {
        const cache = yield* makeCache()

        const error = yield* Effect.flip(cache.beforeRequest(makeContext({ headers: { "x-fluxen-cache-ttl": value } })))

        expect(error._tag).toBe("InvalidRequestError")
        expect(error.message).toContain("x-fluxen-cache-ttl")
        expect((error as { param?: string }).param).toBe("x-fluxen-cache-ttl")
      }))
  }

  it.effect("rejects an invalid namespace header", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()

      const error = yield* Effect.flip(cache.beforeRequest(makeContext({ headers: { "x-fluxen-cache-namespace": "has spaces" } })))

      expect(error._tag).toBe("InvalidRequestError")
      expect(error.message).toContain("x-fluxen-cache-namespace")
    }))
})

describe("cache hooks, namespaces", () => {
  it.effect("keeps teams apart", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ team: "research" }), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, { team: "research", keyId: "key-2" })).decision).toBeDefined()
      expect((yield* lookUp(cache, { team: "sales" })).decision).toBeUndefined()
      expect((yield* lookUp(cache)).decision).toBeUndefined()
    }))

  it.effect("keeps API keys apart without a team", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext({ keyId: "key-1" }), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, { keyId: "key-1" })).decision).toBeDefined()
      expect((yield* lookUp(cache, { keyId: "key-2" })).decision).toBeUndefined()
      expect((yield* lookUp(cache, { team: "key-1" })).decision).toBeUndefined()
    }))

  it.effect("shares a configured namespace", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache({ namespace: "everyone" })
      yield* serve(cache, makeContext({ team: "research" }), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, { team: "sales" })).decision).toBeDefined()
    }))

  it.effect("narrows by the namespace header", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const header = { "x-fluxen-cache-namespace": "eval-run-7" }
      yield* serve(cache, makeContext({ team: "research", headers: header }), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, { team: "research", headers: header })).decision).toBeDefined()
      expect((yield* lookUp(cache, { team: "research" })).decision).toBeUndefined()
      expect((yield* lookUp(cache, { team: "sales", headers: header })).decision).toBeUndefined()
    }))

  it.effect("separates requests and routes", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      expect((yield* lookUp(cache, { request: chatRequest("Invent two holidays.") })).decision).toBeUndefined()
      expect((yield* lookUp(cache, { upstreamModel: "gpt-4o-mini" })).decision).toBeUndefined()
      expect((yield* lookUp(cache, { provider: "azure" })).decision).toBeUndefined()
      expect((yield* lookUp(cache, { request: { ...chatRequest(), user: "someone-else" } })).decision).toBeDefined()
    }))
})

describe("cache hooks, embeddings and other endpoints", () => {
  it.effect("caches embeddings as JSON", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const usage = usageFromOpenAI(embeddingsBody.usage)
      const options: ContextOptions = { endpoint: "embeddings", request: embeddingsRequest, upstreamModel: "text-embedding-3-small" }
      yield* serve(cache, makeContext(options), okOutcome(embeddingsBody, usage))

      const { decision, context } = yield* lookUp(cache, options)

      const response = jsonResponse(decision)
      expect(response.body).toEqual(embeddingsBody)
      expect(JSON.parse(new TextDecoder().decode(response.bytes))).toEqual(embeddingsBody)
      expect(response.usage).toEqual(usage)
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("hit")
      expect((yield* lookUp(cache, { ...options, request: { ...embeddingsRequest, dimensions: 256 } })).decision).toBeUndefined()
    }))

  for (const endpoint of ["completions", "responses", "messages"] as const) {
    it.effect(`leaves ${endpoint} alone`, () =>
      Effect.gen(function* () {
        const cache = yield* makeCache()
        const options: ContextOptions = { endpoint, request: { model: "gpt-4.1-nano", prompt: "Say hi" } as never }

        const first = makeContext(options)
        yield* serve(cache, first, okOutcome({ choices: [{ index: 0, text: "hi", finish_reason: "stop" }] }, textUsage))
        const { decision, context } = yield* lookUp(cache, options)

        expect(decision).toBeUndefined()
        expect(first.responseHeaders).toEqual({})
        expect(first.attributes.size).toBe(0)
        expect(context.record.cacheStatus).toBeUndefined()
        expect(cache.stats()).toMatchObject({ stores: 0, misses: 0 })
      }))
  }
})

describe("cache hooks, store failures", () => {
  const failingStore: CacheStore = {
    kind: "redis",
    get: () => Effect.fail(new CacheStoreError({ operation: "get", reason: "unavailable", message: "Redis is down" })),
    set: () => Effect.fail(new CacheStoreError({ operation: "set", reason: "timeout", message: "Redis timed out" }))
  }

  it.effect("bypasses and counts failures", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache({ store: failingStore })

      const context = makeContext()
      const decision = yield* serve(cache, context, okOutcome(textCompletion, textUsage))

      expect(decision).toBeUndefined()
      expect(context.record.cacheStatus).toBe("bypass")
      expect(context.responseHeaders[CACHE_STATUS_HEADER]).toBe("bypass")
      expect(cache.stats()).toMatchObject({ misses: 0, lookupFailures: 1, storeFailures: 1, stores: 0 })
    }))

  it.effect("memory store: hit, miss, store are Exits", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      const missContext = makeContext()
      const missed = cache.beforeRequest(missContext)
      expect(Exit.isExit(missed)).toBe(true)
      expect(yield* missed).toBeUndefined()

      const stored = cache.afterResponse(missContext, okOutcome(textCompletion, textUsage))
      expect(Exit.isExit(stored)).toBe(true)
      expect(cache.stats()).toMatchObject({ stores: 1 })
      const hit = cache.beforeRequest(makeContext())

      expect(Exit.isExit(hit)).toBe(true)
      expect(jsonResponse(yield* hit).body).toEqual(textCompletion)
    }))

  it.effect("hit: own copy of the body", () =>
    Effect.gen(function* () {
      const cache = yield* makeCache()
      yield* serve(cache, makeContext(), okOutcome(textCompletion, textUsage))

      const first = jsonResponse((yield* lookUp(cache)).decision).body as ChatCompletion
      const message = first.choices[0]!.message as { content: unknown }
      message.content = "changed by a hook"
      const second = jsonResponse((yield* lookUp(cache)).decision)

      expect(second.body).toEqual(textCompletion)
      expect(JSON.parse(new TextDecoder().decode(second.bytes))).toEqual(textCompletion)
      expect(second.bytes).not.toBe(jsonResponse((yield* lookUp(cache)).decision).bytes)
    }))

  it.effect("invalid entry: counted per lookup", () =>
    Effect.gen(function* () {
      const cache = yield* cacheWithEntry(JSON.stringify({ choices: [{ index: 0, finish_reason: null }] }))

      yield* lookUp(cache)
      const { decision } = yield* lookUp(cache)

      expect(decision).toBeUndefined()
      expect(cache.stats()).toMatchObject({ invalidEntries: 2, hits: 0 })
    }))

  it.effect("treats an unreadable body as a miss", () =>
    Effect.gen(function* () {
      const cache = yield* cacheWithEntry("{not json")

      const { decision, context: next } = yield* lookUp(cache)

      expect(decision).toBeUndefined()
      expect(next.record.cacheStatus).toBe("miss")
      expect(cache.stats()).toMatchObject({ invalidEntries: 1, misses: 2 })
    }))
})
