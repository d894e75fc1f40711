/**
 * The `@fluxen/cache` plugin in a running gateway, behind the analyzer, with
 * the OpenAI SDK as the client. The tests cover streamed and JSON hits,
 * streams that must not be stored, a Redis that stops while requests run,
 * and semantic hits with the lexical embedder.
 *
 * The tests share one gateway with the semantic cache on, so each test's
 * question has words of its own. The lexical embedder ignores word order, so
 * two questions with the same words would hit each other's entries.
 */
import { rmSync } from "node:fs"
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeTestModel, type TestModel } from "@fluxen/cache/testing/onnx"
import { freePort, startRedisServer, type RedisServer } from "../../../plugins/cache/src/testing/redisServer.js"
import {
  CLIENT_API_KEY,
  chatFixtureText,
  fixtureJson,
  makeClient,
  recordIds,
  requestIdOf,
  startHarness,
  waitForNewRecord,
  waitForRecord,
  type Harness
} from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk
type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam

const TEXT_STREAM = "openai/chat-completions/text-stream-usage.sse"
const TEXT_JSON = "openai/chat-completions/text.json"
const MODEL = "gpt-4o-mini"

const cachePlugins = (cacheConfig: string) => `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/cache"
    config:
${cacheConfig}`

const ask = (content: string): Array<ChatMessage> => [{ role: "user", content }]

/** Streams a chat completion with a usage chunk; returns the chunks, the response headers and the request id. */
const streamChat = async (client: OpenAI, messages: Array<ChatMessage>, signal?: AbortSignal) => {
  const { data: stream, response } = await client.chat.completions
    .create({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } }, { signal })
    .withResponse()
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  return { chunks, headers: response.headers, requestId: requestIdOf(response.headers) }
}

const textOf = (chunks: ReadonlyArray<ChatChunk>): string =>
  chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("")

const postChat = async (client: OpenAI, messages: Array<ChatMessage>) => {
  const { data, response } = await client.chat.completions.create({ model: MODEL, messages }).withResponse()
  return { completion: data, headers: response.headers, requestId: requestIdOf(response.headers) }
}

describe("cache in a gateway", () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: cachePlugins("      semantic:\n        enabled: true\n") })
  })

  afterAll(async () => {
    await harness?.close()
  })

  describe("streamed hits", () => {
    it("replays a stream cached from a stream", async () => {
      const messages = ask("Name three rivers in Europe.")
      harness.upstream.enqueue({ fixture: TEXT_STREAM })
      const calls = harness.upstream.requests.length

      const first = await streamChat(harness.client, messages)
      const second = await streamChat(harness.client, messages)

      expect(harness.upstream.requests.length).toBe(calls + 1)
      expect(first.headers.get("x-fluxen-cache")).toBe("miss")
      expect(second.headers.get("x-fluxen-cache")).toBe("hit")
      expect(Number(second.headers.get("age"))).toBeGreaterThanOrEqual(0)
      expect(textOf(second.chunks)).toBe(chatFixtureText(TEXT_STREAM))
      expect(second.chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 78, completion_tokens: 9 })
      const missRecord = await waitForRecord(harness.gateway, first.requestId)
      const hitRecord = await waitForRecord(harness.gateway, second.requestId)
      expect(missRecord.cacheStatus).toBe("miss")
      expect(hitRecord.cacheStatus).toBe("hit")
      expect(hitRecord.costUsd).toBe(0)
      expect(hitRecord.costSavedUsd).toBeCloseTo(missRecord.costUsd!, 12)
      expect(hitRecord.costSavedUsd).toBeGreaterThan(0)
    })

    it("replays a stream cached from JSON", async () => {
      const messages = ask("How many legs does a spider have?")
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      const calls = harness.upstream.requests.length

      const first = await postChat(harness.client, messages)
      const second = await streamChat(harness.client, messages)

      expect(harness.upstream.requests.length).toBe(calls + 1)
      expect(second.headers.get("x-fluxen-cache")).toBe("hit")
      expect(second.headers.get("age")).not.toBeNull()
      expect(textOf(second.chunks)).toBe(first.completion.choices[0]?.message.content)
      expect(second.chunks.at(-1)?.usage).toMatchObject({
        prompt_tokens: first.completion.usage?.prompt_tokens,
        completion_tokens: first.completion.usage?.completion_tokens
      })
      const hitRecord = await waitForRecord(harness.gateway, second.requestId)
      expect(hitRecord.cacheStatus).toBe("hit")
      expect(hitRecord.costSavedUsd).toBeGreaterThan(0)
    })

    it("serves JSON cached from a stream", async () => {
      const messages = ask("Suggest a name for a grey cat.")
      harness.upstream.enqueue({ fixture: TEXT_STREAM })

      await streamChat(harness.client, messages)
      const second = await postChat(harness.client, messages)

      expect(second.headers.get("x-fluxen-cache")).toBe("hit")
      expect(second.completion.choices[0]?.message.content).toBe(chatFixtureText(TEXT_STREAM))
      expect(second.completion.usage).toMatchObject({ prompt_tokens: 78, completion_tokens: 9 })
    })
  })

  describe("streams that are not stored", () => {
    it("calls the upstream again after a cancelled stream", async () => {
      const messages = ask("Write a haiku about autumn rain.")
      // 200 ms between events: the whole replay would take seconds.
      harness.upstream.enqueue({ fixture: TEXT_STREAM, delayMs: 200 })
      const index = harness.upstream.requests.length
      const controller = new AbortController()

      const { data: stream, response } = await harness.client.chat.completions
        .create({ model: MODEL, messages, stream: true }, { signal: controller.signal })
        .withResponse()
      for await (const chunk of stream) {
        if ((chunk.choices[0]?.delta.content ?? "") !== "") controller.abort()
      }
      await harness.upstream.waitForAbort(index, 2_000)
      // The record is written after the cache's afterResponse hook, so the store decision is made by then.
      const cancelled = await waitForRecord(harness.gateway, requestIdOf(response.headers))
      harness.upstream.enqueue({ fixture: TEXT_STREAM })
      const repeated = await streamChat(harness.client, messages)

      expect(cancelled.status).toBe("cancelled")
      expect(harness.upstream.requests.length).toBe(index + 2)
      expect(repeated.headers.get("x-fluxen-cache")).toBe("miss")
      expect(textOf(repeated.chunks)).toBe(chatFixtureText(TEXT_STREAM))
    })

    it("calls the upstream again after a stream cut off upstream", async () => {
      const messages = ask("List the planets of the solar system.")
      harness.upstream.enqueue({ fixture: TEXT_STREAM, stopAfterWrites: 3 })
      const index = harness.upstream.requests.length
      const earlier = await recordIds(harness.gateway)

      const broken = await streamChat(harness.client, messages).then(
        () => undefined,
        (error: unknown) => error
      )
      const record = await waitForNewRecord(harness.gateway, earlier)
      harness.upstream.enqueue({ fixture: TEXT_STREAM })
      const repeated = await streamChat(harness.client, messages)

      expect(broken).toBeInstanceOf(Error)
      expect(record.status).toBe("error")
      expect(harness.upstream.requests.length).toBe(index + 2)
      expect(repeated.headers.get("x-fluxen-cache")).toBe("miss")
    })
  })

  describe("semantic hits", () => {
    it("serves a near duplicate with its similarity", async () => {
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      const calls = harness.upstream.requests.length

      const first = await postChat(harness.client, ask("What is the boiling point of water at sea level?"))
      const second = await postChat(harness.client, ask("what is the boiling point of water at sea level"))

      expect(harness.upstream.requests.length).toBe(calls + 1)
      expect(first.headers.get("x-fluxen-cache")).toBe("miss")
      expect(second.headers.get("x-fluxen-cache")).toBe("semantic-hit")
      expect(Number(second.headers.get("x-fluxen-cache-similarity"))).toBeGreaterThanOrEqual(0.92)
      expect(second.completion.choices[0]?.message.content).toBe(first.completion.choices[0]?.message.content)
      const record = await waitForRecord(harness.gateway, second.requestId)
      expect(record.cacheStatus).toBe("semantic-hit")
      expect(record.cacheSimilarity).toBeCloseTo(Number(second.headers.get("x-fluxen-cache-similarity")), 4)
      expect(record.costUsd).toBe(0)
      expect(record.costSavedUsd).toBeGreaterThan(0)
    })

    it("streams a semantic hit", async () => {
      harness.upstream.enqueue({ fixture: TEXT_STREAM })

      await streamChat(harness.client, ask("Which ocean is the largest on Earth?"))
      const second = await streamChat(harness.client, ask("which ocean is the largest on earth"))

      expect(second.headers.get("x-fluxen-cache")).toBe("semantic-hit")
      expect(textOf(second.chunks)).toBe(chatFixtureText(TEXT_STREAM))
    })

    it("misses after a different earlier turn", async () => {
      const after = (place: string, question: string): Array<ChatMessage> => [
        { role: "user", content: `I am planning a trip to ${place}.` },
        { role: "assistant", content: "Noted." },
        { role: "user", content: question }
      ]
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      const calls = harness.upstream.requests.length

      await postChat(harness.client, after("France", "What is the capital?"))
      const otherConversation = await postChat(harness.client, after("Spain", "what is the capital"))
      const sameConversation = await postChat(harness.client, after("France", "what is the capital"))

      expect(otherConversation.headers.get("x-fluxen-cache")).toBe("miss")
      expect(otherConversation.headers.get("x-fluxen-cache-similarity")).toBeNull()
      expect(sameConversation.headers.get("x-fluxen-cache")).toBe("semantic-hit")
      expect(harness.upstream.requests.length).toBe(calls + 2)
    })

    it("reports guard rejections on /metrics", async () => {
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      harness.upstream.enqueue({ fixture: TEXT_JSON })
      const rejections = async () => {
        const text = await (await fetch(`${harness.gateway.url}/metrics`)).text()
        const line = text.split("\n").find((row) => row.startsWith("fluxen_cache_semantic_guard_rejections_total"))
        return Number(line?.split(" ").at(-1))
      }
      const before = await rejections()

      await postChat(harness.client, ask("Please refund order 48213 to the card it was paid with."))
      const other = await postChat(harness.client, ask("Please refund order 48219 to the card it was paid with."))

      expect(other.headers.get("x-fluxen-cache")).toBe("miss")
      expect(await rejections()).toBe(before + 1)
    })
  })
})

describe("cache while Redis stops", () => {
  let harness: Harness
  let redis: RedisServer
  let port: number

  beforeAll(async () => {
    port = await freePort()
    redis = await startRedisServer(port)
    harness = await startHarness({
      pluginsYaml: cachePlugins(`      store: redis
      redis:
        url: ${redis.url}
        keyPrefix: "e2e:"
        connectTimeout: 500
        commandTimeout: 200
`)
    })
  })

  afterAll(async () => {
    await harness?.close()
    await redis?.stop()
  })

  const post = (content: string) => postChat(makeClient(harness.gateway), ask(content))
  const scrapeMetrics = async () => (await fetch(`${harness.gateway.url}/metrics`)).text()
  const metricValue = (text: string, series: string) => Number(text.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1))

  /** Repeats a question until its second asking is a hit, for up to `timeoutMs`. */
  const waitForHits = async (timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs
    for (let attempt = 0; ; attempt++) {
      const question = `After the restart, attempt ${attempt}: what is the capital of the UK?`
      await post(question)
      const repeated = await post(question)
      if (repeated.headers.get("x-fluxen-cache") === "hit") return repeated
      if (performance.now() > deadline) throw new Error(`No cache hit within ${timeoutMs} ms of the Redis restart`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  it("serves every request uncached, then hits again", async () => {
    // Every chat request gets the recorded completion, 300 ms after it arrives.
    harness.upstream.route("/v1/chat/completions", { fixture: TEXT_JSON, delayBeforeHeadersMs: 300 })

    await post("Before the stop: what is the capital of the UK?")
    const before = await post("Before the stop: what is the capital of the UK?")
    expect(before.headers.get("x-fluxen-cache")).toBe("hit")

    // Stop Redis while requests wait for the upstream.
    const inFlight = Array.from({ length: 4 }, (_, i) => post(`In flight ${i}: what is the capital of the UK?`))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await redis.stop()
    const duringStop = await Promise.all(inFlight)
    const whileDown = []
    for (let i = 0; i < 3; i++) whileDown.push(await post("Before the stop: what is the capital of the UK?"))

    for (const result of [...duringStop, ...whileDown]) expect(result.completion.choices[0]?.message.content).toBe(fixtureJson(TEXT_JSON).choices[0].message.content)
    for (const result of whileDown) expect(result.headers.get("x-fluxen-cache")).toBe("bypass")
    const down = await scrapeMetrics()
    expect(down).toContain('fluxen_cache_redis_up{plugin="@fluxen/cache"} 0')
    // The circuit breaker opens after the failed stores of the requests in flight, so the later lookups are skipped, not failed.
    const failedOrSkipped =
      metricValue(down, 'fluxen_cache_store_errors_total{plugin="@fluxen/cache",operation="get"}') +
      metricValue(down, 'fluxen_cache_store_skipped_total{plugin="@fluxen/cache",operation="get"}')
    expect(failedOrSkipped).toBeGreaterThanOrEqual(3)

    redis = await startRedisServer(port)
    const after = await waitForHits(10_000)

    expect(after.headers.get("x-fluxen-cache")).toBe("hit")
    expect(await scrapeMetrics()).toContain('fluxen_cache_redis_up{plugin="@fluxen/cache"} 1')
    const record = await waitForRecord(harness.gateway, after.requestId)
    expect(record.cacheStatus).toBe("hit")
  }, 60_000)
})

describe("semantic embedders in a gateway", () => {
  it("embeds through another gateway's /v1/embeddings", async () => {
    // The embedding gateway meters the cache's embeddings calls like any other.
    const embeddings = await startHarness()
    const chat = await startHarness({
      pluginsYaml: cachePlugins(`      semantic:
        enabled: true
        embedder:
          type: provider
          baseUrl: ${embeddings.gateway.baseURL}
          model: text-embedding-3-small
          apiKey: ${CLIENT_API_KEY}
`)
    })
    try {
      /** Returns an embeddings response whose one vector points along `axis`, tilted towards axis 0 by `tilt`. */
      const embeddingReply = (axis: number, tilt = 0) => {
        const embedding = new Array<number>(8).fill(0)
        embedding[axis] = 1
        embedding[0] = tilt
        return { body: JSON.stringify({ object: "list", data: [{ object: "embedding", index: 0, embedding }], model: "text-embedding-3-small", usage: { prompt_tokens: 5, total_tokens: 5 } }) }
      }
      embeddings.upstream.enqueue(embeddingReply(3))
      chat.upstream.enqueue({ fixture: TEXT_JSON })
      embeddings.upstream.enqueue(embeddingReply(3, 0.1))
      embeddings.upstream.enqueue(embeddingReply(5))
      chat.upstream.enqueue({ fixture: TEXT_JSON })

      const first = await postChat(chat.client, ask("How do I rotate an API key?"))
      const similar = await postChat(chat.client, ask("How can an API key be rotated?"))
      const other = await postChat(chat.client, ask("Which regions host the gateway?"))

      expect(first.headers.get("x-fluxen-cache")).toBe("miss")
      expect(similar.headers.get("x-fluxen-cache")).toBe("semantic-hit")
      // cos(axis 3, axis 3 tilted by 0.1) = 1 / sqrt(1.01)
      expect(similar.headers.get("x-fluxen-cache-similarity")).toBe((1 / Math.sqrt(1.01)).toFixed(4))
      expect(other.headers.get("x-fluxen-cache")).toBe("miss")
      expect(chat.upstream.requests).toHaveLength(2)
      expect(embeddings.upstream.requests.map((request) => request.json)).toEqual([
        { model: "text-embedding-3-small", input: ["How do I rotate an API key?"], encoding_format: "float" },
        { model: "text-embedding-3-small", input: ["How can an API key be rotated?"], encoding_format: "float" },
        { model: "text-embedding-3-small", input: ["Which regions host the gateway?"], encoding_format: "float" }
      ])
      const metered = (await embeddings.gateway.usageRecords()).filter((record) => record.endpoint === "embeddings")
      expect(metered).toHaveLength(3)
    } finally {
      await chat.close()
      await embeddings.close()
    }
  })

  describe("onnx embedder", () => {
    let model: TestModel
    let harness: Harness

    beforeAll(async () => {
      model = writeTestModel({ dimensions: 32 })
      harness = await startHarness({
        pluginsYaml: cachePlugins(`      semantic:
        enabled: true
        embedder:
          type: onnx
          modelDirectory: ${JSON.stringify(model.directory)}
          workers: 1
`)
      })
    })

    afterAll(async () => {
      await harness?.close()
      if (model !== undefined) rmSync(model.directory, { recursive: true, force: true })
    })

    it("serves a near duplicate", async () => {
      harness.upstream.enqueue({ fixture: TEXT_JSON })

      await postChat(harness.client, ask("What is the capital of France?"))
      const similar = await postChat(harness.client, ask("what is the capital of france"))

      expect(similar.headers.get("x-fluxen-cache")).toBe("semantic-hit")
      expect(Number(similar.headers.get("x-fluxen-cache-similarity"))).toBeGreaterThanOrEqual(0.92)
      expect(harness.upstream.requests).toHaveLength(1)
    })
  })
})
