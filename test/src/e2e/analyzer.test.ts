/**
 * Usage accounting that needs the `@fluxen/analyzer` plugin: the cost of the
 * recorded usage at the prices of `config/pricing.json`, the token estimate
 * for a stream whose upstream reported no usage or cut it short, and the
 * cost of 0 of a request that got no success response from a provider.
 */
import { readFileSync } from "node:fs"
import type { UsageRecord } from "@fluxen/runtime"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  chatFixtureText,
  postJson,
  recordIds,
  requestIdOf,
  ssePayloads,
  startHarness,
  waitForNewRecord,
  waitForRecord,
  type Harness
} from "./harness.js"

interface Price {
  readonly input: number
  readonly cachedInput?: number
  readonly output: number
}

const pricing = JSON.parse(readFileSync(new URL("../../../config/pricing.json", import.meta.url), "utf8")) as {
  readonly version: string
  readonly models: Readonly<Record<string, Price>>
}

/** Computes the cost in USD of uncached prompt and completion tokens at a model's price per million tokens. */
const costOf = (model: string, promptTokens: number, completionTokens: number): number => {
  const price = pricing.models[model]
  if (price === undefined) throw new Error(`config/pricing.json has no price for ${model}`)
  return (promptTokens * price.input + completionTokens * price.output) / 1_000_000
}

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

/** A priced model that waits out a 429's `retry-after` of up to 5 seconds and retries once. */
const RETRYING_MODEL = "gpt-4o-mini-retrying"

let harness: Harness

beforeAll(async () => {
  // The default plugin section loads the analyzer.
  harness = await startHarness({
    modelsYaml: `  ${RETRYING_MODEL}:
    provider: openai
    model: gpt-4o-mini-2024-07-18
    retry:
      attempts: 1
      maxDelay: 5 seconds
`
  })
})

afterAll(async () => {
  await harness?.close()
})

describe("cost of reported usage", () => {
  it("prices a JSON chat reply", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: question }).withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    // The upstream model gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini.
    expect(record.costUsd).toBeCloseTo(costOf("gpt-4o-mini", 16, 363), 12)
    expect(record.costUsd).toBeCloseTo(0.0002202, 12)
    expect(record.priceVersion).toBe(pricing.version)
    expect(record.usageEstimated).toBe(false)
  })

  it("prices reasoning tokens as completion tokens", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/tool-call.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-5-nano", messages: question }).withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.reasoningTokens).toBe(256)
    expect(record.costUsd).toBeCloseTo(costOf("gpt-5-nano", 162, 287), 12)
  })

  it("prices the usage chunk of a stream", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: question, stream: true })
      .withResponse()
    for await (const _chunk of stream) {
      // Reads the stream to its end.
    }
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.promptTokens).toBe(78)
    expect(record.completionTokens).toBe(9)
    expect(record.costUsd).toBeCloseTo(costOf("gpt-4o-mini", 78, 9), 12)
    expect(record.usageEstimated).toBe(false)
  })

  it("prices embeddings by their input tokens", async () => {
    harness.upstream.enqueue({ fixture: "openai/embeddings/float.json" })

    const response = await postJson(harness.gateway, "/v1/embeddings", {
      model: "text-embedding-3-small",
      input: "The food was delicious and the waiter...",
      encoding_format: "float"
    })
    await response.arrayBuffer()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.promptTokens).toBe(7)
    expect(record.costUsd).toBeCloseTo(costOf("text-embedding-3-small", 7, 0), 15)
  })

  it("upstream error costs zero", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/error-400-unsupported-parameter.json" })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4.1-nano", messages: question, max_tokens: 5 })
    await response.arrayBuffer()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.status).toBe("error")
    expect(record.promptTokens).toBeNull()
    expect(record.costUsd).toBe(0)
  })
})

describe("estimated usage", () => {
  const NO_USAGE = "openai/chat-completions/text-stream-no-usage.sse"

  it("estimates a stream that reported no usage", async () => {
    const expectedText = chatFixtureText(NO_USAGE)
    const contentDeltas = ssePayloads(NO_USAGE).filter((chunk) => (chunk.choices[0]?.delta?.content ?? "") !== "").length
    harness.upstream.enqueue({ fixture: NO_USAGE, writes: { bytes: 1 } })

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: "gpt-5-nano", messages: [{ role: "user", content: "Say hi" }], stream: true })
      .withResponse()
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(text).toBe(expectedText)
    expect(record.status).toBe("ok")
    expect(record.usageEstimated).toBe(true)
    expect(record.promptTokens).toBeGreaterThan(0)
    // Each of the 48 content deltas of this recording is exactly one o200k_base token.
    expect(contentDeltas).toBe(48)
    expect(record.completionTokens).toBe(contentDeltas)
    expect(record.costUsd).toBeCloseTo(costOf("gpt-5-nano", record.promptTokens!, record.completionTokens!), 15)
  })

  it("estimates what a cancelled stream consumed", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", delayMs: 200 })
    const index = harness.upstream.requests.length
    const controller = new AbortController()

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: question, stream: true }, { signal: controller.signal })
      .withResponse()
    let text = ""
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      if (text !== "") controller.abort()
    }
    await harness.upstream.waitForAbort(index, 1000)
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(text).toBe("The")
    expect(record.status).toBe("cancelled")
    expect(record.usageEstimated).toBe(true)
    // "The" is one token in every OpenAI encoding.
    expect(record.completionTokens).toBe(1)
    expect(record.promptTokens).toBeGreaterThan(0)
    expect(record.costUsd).toBeCloseTo(costOf("gpt-4o-mini", record.promptTokens!, 1), 15)
  })
  it("estimates a stream the upstream cut", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", stopAfterWrites: 3 })

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: question, stream: true })
      .withResponse()
    let text = ""
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    })().catch((caught: unknown) => caught)
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(failure).toBeInstanceOf(Error)
    expect(text).not.toBe("")
    expect(record.status).toBe("error")
    expect(record.usageEstimated).toBe(true)
    expect(record.promptTokens).toBeGreaterThan(0)
    expect(record.completionTokens).toBeGreaterThan(0)
    expect(record.costUsd).toBeCloseTo(costOf("gpt-4o-mini", record.promptTokens!, record.completionTokens!), 15)
  })
})

// Providers usually bill no request that got no success response from them.
describe("requests without a provider response", () => {
  /** Waits until the upstream has received request number `index`. */
  const upstreamReceived = async (index: number): Promise<void> => {
    while (harness.upstream.requests.length <= index) await new Promise((resolve) => setTimeout(resolve, 5))
  }

  /** Checks that a record has the status, token counts and cost of a request no provider billed. */
  const expectUnbilled = (record: UsageRecord): void => {
    expect(record.status).toBe("cancelled")
    expect(record.promptTokens).toBeNull()
    expect(record.completionTokens).toBeNull()
    expect(record.usageEstimated).toBe(false)
    expect(record.costUsd).toBe(0)
  }

  it("client timeout during retry-after", async () => {
    harness.upstream.enqueue({
      status: 429,
      headers: { "retry-after": "3" },
      body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } })
    })
    const index = harness.upstream.requests.length
    const earlier = await recordIds(harness.gateway)

    const failure = await harness.client.chat.completions
      .create({ model: RETRYING_MODEL, messages: question }, { timeout: 500 })
      .catch((caught: unknown) => caught)
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(failure).toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
    expect(harness.upstream.requests.length).toBe(index + 1)
    expectUnbilled(record)
  })

  it("client timeout before response headers", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json", delayBeforeHeadersMs: 3000 })
    const index = harness.upstream.requests.length
    const earlier = await recordIds(harness.gateway)

    const failure = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: question }, { timeout: 500 })
      .catch((caught: unknown) => caught)
    await harness.upstream.waitForAbort(index, 1000)
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(failure).toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
    expectUnbilled(record)
  })

  it("stream aborted before response headers", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", delayBeforeHeadersMs: 3000 })
    const index = harness.upstream.requests.length
    const earlier = await recordIds(harness.gateway)
    const controller = new AbortController()

    const request = harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: question, stream: true }, { signal: controller.signal })
    await upstreamReceived(index)
    controller.abort()
    const failure = await request.catch((caught: unknown) => caught)
    await harness.upstream.waitForAbort(index, 1000)
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(failure).toBeInstanceOf(OpenAI.APIUserAbortError)
    expect(record.stream).toBe(true)
    expectUnbilled(record)
  })
})

describe("cost in PostgreSQL", () => {
  it("stores the cost of a JSON chat reply", async () => {
    const postgres = await startHarness({ database: "postgres" })
    try {
      postgres.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
      const { response } = await postgres.client.chat.completions.create({ model: "gpt-4o-mini", messages: question }).withResponse()
      const record = await waitForRecord(postgres.gateway, requestIdOf(response.headers))

      expect(record.costUsd).toBeCloseTo(costOf("gpt-4o-mini", 16, 363), 12)
      expect(record.priceVersion).toBe(pricing.version)
    } finally {
      await postgres.close()
    }
  })
})
