/**
 * `gen_ai.response.model` on the spans of `@fluxen/otel`, with recorded
 * responses replayed by the upstream. The attribute comes only from payloads
 * that Fluxen parses anyway, so a JSON body that an OpenAI-compatible
 * provider's adapter relays unread, and a stream without a usage chunk,
 * leave it out.
 */
import type Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { attributesOf, waitForSpan } from "../support/otlpCollector.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { anthropicProviderYaml, geminiProviderYaml, makeAnthropicClient, requestIdOf, startHarness, type Harness } from "./harness.js"

const RESPONSE_MODEL = "gen_ai.response.model"

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  gemini-2.0-flash:
    provider: gemini
  gemini-2.5-flash:
    provider: gemini
`

const pluginsYaml = (collectorUrl: string, extra = "") => `plugins:
  - use: "@fluxen/otel"
    config:
      endpoint: ${collectorUrl}/v1/traces
      batch:
        interval: 50 millis
  - use: "@fluxen/analyzer"
${extra}`

const messages = [{ role: "user" as const, content: "What is the capital of France?" }]

let collector: ReplayUpstream

beforeAll(async () => {
  collector = await startReplayUpstream()
  collector.route("/v1/traces", { status: 200, body: "{}" })
})

afterAll(async () => {
  await collector?.close()
})

/** Returns the exported span attributes of the request whose response carried `headers`. */
const spanAttributes = async (headers: Headers): Promise<Record<string, unknown>> =>
  attributesOf(await waitForSpan(collector, requestIdOf(headers)))

/** Reads a stream to its end, which finishes the request. */
const drain = async (stream: AsyncIterable<unknown>): Promise<void> => {
  for await (const _event of stream) {
    // Only the end of the stream matters here.
  }
}

describe("response model on spans", () => {
  let harness: Harness
  let anthropic: Anthropic

  beforeAll(async () => {
    harness = await startHarness({
      providersYaml: (upstreamUrl) => anthropicProviderYaml(upstreamUrl) + geminiProviderYaml(upstreamUrl),
      modelsYaml,
      pluginsYaml: pluginsYaml(collector.url)
    })
    anthropic = makeAnthropicClient(harness.gateway)
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("OpenAI stream: from the usage chunk", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })

    const { data, response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }).withResponse()
    await drain(data)
    const attributes = await spanAttributes(response.headers)

    expect(attributes["gen_ai.request.model"]).toBe("gpt-4o-mini")
    expect(attributes[RESPONSE_MODEL]).toBe("gpt-4o-mini-2024-07-18")
  })

  it("OpenAI stream without usage: none", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-no-usage.sse" })

    const { data, response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }).withResponse()
    await drain(data)

    expect(await spanAttributes(response.headers)).not.toHaveProperty(RESPONSE_MODEL)
  })

  it("OpenAI JSON relayed unread: none", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-4.1-nano", messages }).withResponse()

    expect(await spanAttributes(response.headers)).not.toHaveProperty(RESPONSE_MODEL)
  })

  it("OpenAI embeddings: none", async () => {
    harness.upstream.enqueue({ fixture: "openai/embeddings/float.json" })

    const { response } = await harness.client.embeddings.create({ model: "text-embedding-3-small", input: "hello" }).withResponse()

    expect(await spanAttributes(response.headers)).not.toHaveProperty(RESPONSE_MODEL)
  })

  it("completions stream: from the usage chunk", async () => {
    harness.upstream.enqueue({ fixture: "openai/completions/text-stream-usage.chunks.txt" })

    const { data, response } = await harness.client.completions
      .create({ model: "gpt-3.5-turbo-instruct", prompt: "Invent a new holiday.", max_tokens: 16, stream: true })
      .withResponse()
    await drain(data)

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("gpt-3.5-turbo-instruct:20230824-v2")
  })

  it("Responses stream: from its events", async () => {
    harness.upstream.enqueue({ fixture: "openai/responses/text-stream.sse" })

    const { data, response } = await harness.client.responses.create({ model: "gpt-4.1", input: "Say hello to the world", stream: true }).withResponse()
    await drain(data)

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("gpt-4.1-2025-04-14")
  })

  it("Gemini JSON: its modelVersion", async () => {
    harness.upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gemini-2.5-flash", messages, max_tokens: 5 }).withResponse()

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("gemini-2.5-flash")
  })

  it("Gemini stream: its modelVersion", async () => {
    harness.upstream.enqueue({ fixture: "gemini/stream-generate-content/text-stream.sse" })

    const { data, response } = await harness.client.chat.completions.create({ model: "gemini-2.0-flash", messages, stream: true }).withResponse()
    await drain(data)
    const attributes = await spanAttributes(response.headers)

    expect(attributes["fluxen.upstream_model"]).toBe("gemini-2.0-flash")
    expect(attributes[RESPONSE_MODEL]).toBe("gemini-2.0-flash-exp")
  })

  it("Anthropic JSON on chat route", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "claude-sonnet-4-5", messages }).withResponse()

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("claude-sonnet-4-5-20250929")
  })

  it("Messages stream to Anthropic", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text-stream.chunks.txt" })

    const { data, response } = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages, stream: true }).withResponse()
    await drain(data)

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("claude-sonnet-4-5-20250929")
  })

  it("Messages stream to OpenAI", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })

    const { data, response } = await anthropic.messages.create({ model: "gpt-4o-mini", max_tokens: 64, messages, stream: true }).withResponse()
    await drain(data)

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("gpt-4o-mini-2024-07-18")
  })

  it("Messages JSON to OpenAI", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await anthropic.messages.create({ model: "gpt-4.1-nano", max_tokens: 64, messages }).withResponse()

    expect((await spanAttributes(response.headers))[RESPONSE_MODEL]).toBe("gpt-4.1-nano-2025-04-14")
  })
})

describe("response model with the cache", () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: pluginsYaml(collector.url, '  - use: "@fluxen/cache"\n') })
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("OpenAI JSON the cache stored", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-4.1-nano", messages }).withResponse()
    const attributes = await spanAttributes(response.headers)

    expect(attributes["fluxen.cache_status"]).toBe("miss")
    expect(attributes[RESPONSE_MODEL]).toBe("gpt-4.1-nano-2025-04-14")
  })
})
