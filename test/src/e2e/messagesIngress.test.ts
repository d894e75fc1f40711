/**
 * Fluxen's Anthropic-shaped route, `POST /v1/messages`, with the official
 * Anthropic SDK as the client. Anthropic deployments get the request body
 * as the client sent it, with only the model name replaced. OpenAI and
 * Gemini deployments get it translated, and their responses come back as
 * Anthropic Messages. Errors use Anthropic's error shape on every path.
 */
import Anthropic from "@anthropic-ai/sdk"
import type { UsageRecord } from "@fluxen/runtime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream, type WritePattern } from "../support/replayUpstream.js"
import { failureOf, fixtureJson, fixtureText, recordIds, UPSTREAM_API_KEY, waitForNewRecord, waitForRecord } from "./harness.js"

const CLIENT_KEY = "client-key"
const ANTHROPIC_KEY = "sk-ant-test-upstream-key"
const GEMINI_KEY = "gemini-test-upstream-key"

const providersYaml = (upstreamUrl: string) => `  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: ${ANTHROPIC_KEY}
  gemini:
    use: "@fluxen/provider-gemini"
    config:
      baseUrl: ${upstreamUrl}/v1beta
      apiKey: ${GEMINI_KEY}
`

// gpt-4.1-nano and gpt-4o-mini come with the generated configuration.
const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  claude-sonnet-4:
    provider: anthropic
    model: claude-sonnet-4-20250514
  claude-slow:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
    idleTimeout: 200 millis
  gemini-2.5-flash:
    provider: gemini
  gemini-3-pro-preview:
    provider: gemini
`

interface ExpectedUsage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  readonly reasoningTokens: number
  /** Computed by hand from the per-million prices in `config/pricing.json`. */
  readonly costUsd: number
}

const SYSTEM_PROMPT = "You are a concise assistant."

const weatherTool = {
  name: "get_weather",
  description: "Current weather of a city",
  input_schema: { type: "object" as const, properties: { location: { type: "string" } }, required: ["location"] }
}

let upstream: ReplayUpstream
let gateway: TestGateway
let client: Anthropic

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({ upstreamUrl: upstream.url, providersYaml: providersYaml(upstream.url), modelsYaml })
  // No retries, because a retried request would take the next reply queued on the upstream.
  client = new Anthropic({ baseURL: gateway.url, apiKey: CLIENT_KEY, maxRetries: 0 })
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const expectRecord = (
  record: UsageRecord,
  expected: { readonly provider: string; readonly model: string; readonly stream: boolean; readonly usage: ExpectedUsage }
): void => {
  expect(record.endpoint).toBe("messages")
  expect(record.status).toBe("ok")
  expect(record.httpStatus).toBe(200)
  expect(record.stream).toBe(expected.stream)
  expect(record.provider).toBe(expected.provider)
  expect(record.requestedModel).toBe(expected.model)
  expect(record.usageEstimated).toBe(false)
  expect(record.promptTokens).toBe(expected.usage.promptTokens)
  expect(record.completionTokens).toBe(expected.usage.completionTokens)
  expect(record.cachedInputTokens).toBe(expected.usage.cachedInputTokens)
  expect(record.cacheWriteTokens).toBe(expected.usage.cacheWriteTokens)
  expect(record.reasoningTokens).toBe(expected.usage.reasoningTokens)
  expect(record.costUsd).toBeCloseTo(expected.usage.costUsd, 12)
}

/** Streams one message with the SDK's stream helper and returns the final message and the new usage record. */
const streamMessage = async (
  params: Anthropic.MessageCreateParamsNonStreaming
): Promise<{ message: Anthropic.Message; events: Array<Anthropic.MessageStreamEvent>; record: UsageRecord }> => {
  const before = await recordIds(gateway)
  const stream = client.messages.stream(params)
  const events: Array<Anthropic.MessageStreamEvent> = []
  // The SDK builds the final message by changing the message_start event's object, so each event is copied as it arrives.
  stream.on("streamEvent", (event) => events.push(structuredClone(event)))
  const message = await stream.finalMessage()
  const record = await waitForNewRecord(gateway, before)
  return { message, events, record }
}

const createMessage = async (
  params: Anthropic.MessageCreateParamsNonStreaming
): Promise<{ message: Anthropic.Message; record: UsageRecord }> => {
  const { data: message, response } = await client.messages.create(params).withResponse()
  const record = await waitForRecord(gateway, response.headers.get("x-fluxen-request-id")!)
  return { message, record }
}


interface SseEvent {
  readonly event: string | undefined
  readonly data: string
}

/**
 * Splits an SSE body into events with their `event` and `data` fields. The
 * bodies in these tests put each field on one line, so a line scan is enough.
 */
const parseSse = (text: string): Array<SseEvent> =>
  text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => {
      let event: string | undefined
      const data: Array<string> = []
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice("event:".length).trimStart()
        // One space after the colon belongs to the framing, the rest is data.
        if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5))
      }
      return { event, data: data.join("\n") }
    })

/** Returns the events of an Anthropic stream recording, naming each `.chunks.txt` event after its payload type. */
const anthropicEvents = (path: string): Array<SseEvent> => {
  const text = fixtureText(path)
  if (!path.endsWith(".chunks.txt")) return parseSse(text)
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => ({ event: (JSON.parse(line) as { type: string }).type, data: line }))
}

/** Returns the JSON payloads of an Anthropic stream recording, in order. */
const anthropicPayloads = (path: string): Array<any> => anthropicEvents(path).map((event) => JSON.parse(event.data))

// ---------------------------------------------------------------------------
// (a) Anthropic models: native passthrough
// ---------------------------------------------------------------------------

describe("messages passthrough to anthropic", () => {
  // Fields Fluxen's schema does not name must reach Anthropic too.
  const params: Anthropic.MessageCreateParamsNonStreaming = {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    system: [{ type: "text", text: SYSTEM_PROMPT, cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "Hello, how are you?" }],
    temperature: 0.5,
    top_k: 40,
    stop_sequences: ["\n\nHuman:"],
    metadata: { user_id: "user-123" },
    tools: [weatherTool],
    tool_choice: { type: "auto", disable_parallel_tool_use: true }
  }

  it("forwards the body with only the model replaced", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const { message, record } = await createMessage(params)

    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/v1/messages")
    expect(request.json).toEqual({ ...params, model: "claude-sonnet-4-5-20250929" })
    expect(request.headers["x-api-key"]).toBe(ANTHROPIC_KEY)
    expect(JSON.stringify(request.headers)).not.toContain(CLIENT_KEY)

    expect(message).toEqual(fixtureJson("anthropic/messages/text.json"))
    // 12 × 3 + 29 × 15 = 471 micro-dollars
    expectRecord(record, {
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      stream: false,
      usage: { promptTokens: 12, completionTokens: 29, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.000471 }
    })
  })

  it("forwards the client's anthropic-version", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    await client.messages.create(params, { headers: { "anthropic-version": "2023-01-01" } })

    expect(upstream.requests.at(-1)!.headers["anthropic-version"]).toBe("2023-01-01")
  })

  it("sends the configured anthropic-version otherwise", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    // A null value makes the SDK leave out its default header.
    await client.messages.create(params, { headers: { "anthropic-version": null } })

    expect(upstream.requests.at(-1)!.headers["anthropic-version"]).toBe("2023-06-01")
  })

  it("returns the upstream body byte for byte", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const response = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify(params)
    })

    expect(response.status).toBe(200)
    expect(await response.text()).toBe(fixtureText("anthropic/messages/text.json"))
  })

  it("records cache reads and writes like the chat route", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/cache-read-and-write.json" })

    const { message, record } = await createMessage(params)

    expect(message.usage.cache_read_input_tokens).toBe(1111)
    expect(message.usage.cache_creation_input_tokens).toBe(418)
    // 3 × 3 + 1111 × 0.3 + 418 × 3.75 + 33 × 15 = 2404.8 micro-dollars
    expectRecord(record, {
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      stream: false,
      usage: { promptTokens: 1532, completionTokens: 33, cachedInputTokens: 1111, cacheWriteTokens: 418, reasoningTokens: 0, costUsd: 0.0024048 }
    })
  })

  const streamCases = [
    {
      fixture: "anthropic/messages/text-stream.chunks.txt",
      model: "claude-sonnet-4-5",
      upstreamModel: "claude-sonnet-4-5-20250929",
      content: [
        {
          type: "text",
          text: "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"
        }
      ],
      stopReason: "end_turn",
      // 12 × 3 + 30 × 15 = 486 micro-dollars
      usage: { promptTokens: 12, completionTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.000486 }
    },
    {
      fixture: "anthropic/messages/tool-use-stream.sse",
      model: "claude-sonnet-4",
      upstreamModel: "claude-sonnet-4-20250514",
      content: [
        { type: "text", text: "I'll check the current weather in Paris for you." },
        // The passthrough keeps `caller`, a field of the recording that Fluxen does not read.
        {
          type: "tool_use",
          id: "toolu_01NRLabsLyVHZPKxbKvkfSMn",
          name: "get_weather",
          caller: { type: "direct" },
          input: { location: "Paris" }
        }
      ],
      stopReason: "tool_use",
      // 377 × 3 + 65 × 15 = 2106 micro-dollars
      usage: { promptTokens: 377, completionTokens: 65, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.002106 }
    },
    {
      fixture: "anthropic/messages/thinking-stream.chunks.txt",
      model: "claude-sonnet-4-5",
      upstreamModel: "claude-sonnet-4-5-20250929",
      content: [
        {
          type: "thinking",
          thinking: "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185",
          signature: anthropicPayloads("anthropic/messages/thinking-stream.chunks.txt").find(
            (payload) => payload.delta?.type === "signature_delta"
          ).delta.signature
        },
        { type: "text", text: "925 ÷ 5 = 185" }
      ],
      stopReason: "end_turn",
      // 69 × 3 + 53 × 15 = 1002 micro-dollars
      usage: { promptTokens: 69, completionTokens: 53, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.001002 }
    },
    {
      fixture: "anthropic/messages/cache-read-stream.sse",
      model: "claude-sonnet-4",
      upstreamModel: "claude-sonnet-4-20250514",
      content: undefined,
      stopReason: "max_tokens",
      // 11 × 3 + 1031 × 0.3 + 100 × 15 = 1842.3 micro-dollars
      usage: { promptTokens: 1042, completionTokens: 100, cachedInputTokens: 1031, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.0018423 }
    }
  ] as const

  const streamWrites: ReadonlyArray<readonly [string, WritePattern]> = [
    ["per-event", "per-event"],
    ["1-byte", { bytes: 1 }]
  ]

  // The SDK's stream helper drops pings and updates the message_start
  // object in place, so the raw events are read from the response body.
  for (const expected of streamCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    it(`relays every event of ${name} unchanged`, async () => {
      upstream.enqueue({ fixture: expected.fixture, writes: { bytes: 3 } })

      const response = await fetch(`${gateway.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ ...params, model: expected.model, stream: true })
      })

      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
      const received = parseSse(await response.text())
      const recorded = anthropicEvents(expected.fixture)
      expect(received.map((event) => event.event)).toEqual(recorded.map((event) => event.event))
      expect(received.map((event) => event.data)).toEqual(recorded.map((event) => event.data))
    })
  }

  for (const expected of streamCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    it.each(streamWrites)(`streams ${name} from %s writes`, async (_pattern, writes) => {
      upstream.enqueue({ fixture: expected.fixture, writes })

      const { message, record } = await streamMessage({ ...params, model: expected.model })

      const request = upstream.requests.at(-1)!
      expect(request.json).toEqual({ ...params, model: expected.upstreamModel, stream: true })
      expect(request.headers["accept"]).toBe("text/event-stream")

      if (expected.content !== undefined) expect(message.content).toEqual(expected.content)
      expect(message.stop_reason).toBe(expected.stopReason)
      expect(message.usage.input_tokens).toBe(
        expected.usage.promptTokens - expected.usage.cachedInputTokens - expected.usage.cacheWriteTokens
      )
      expect(message.usage.cache_read_input_tokens).toBe(expected.usage.cachedInputTokens)
      expect(message.usage.output_tokens).toBe(expected.usage.completionTokens)
      expectRecord(record, { provider: "anthropic", model: expected.model, stream: true, usage: expected.usage })
    })
  }
})

// ---------------------------------------------------------------------------
// (b) OpenAI models: translated
// ---------------------------------------------------------------------------

describe("messages translated to openai", () => {
  it("answers a plain request with a message", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { message, record } = await createMessage({
      model: "gpt-4.1-nano",
      max_tokens: 1024,
      system: SYSTEM_PROMPT,
      messages: [{ role: "user", content: "Invent a holiday." }]
    })

    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/v1/chat/completions")
    expect(request.headers["authorization"]).toBe(`Bearer ${UPSTREAM_API_KEY}`)
    expect(request.headers["x-api-key"]).toBeUndefined()
    // Fluxen may state `stream: false` or leave it out, and both mean the same to OpenAI.
    const { stream, ...body } = request.json as Record<string, unknown>
    expect(stream ?? false).toBe(false)
    expect(body).toEqual({
      model: "gpt-4.1-nano",
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: "Invent a holiday." }
      ],
      max_completion_tokens: 1024
    })

    const recorded = fixtureJson("openai/chat-completions/text.json")
    expect(message.type).toBe("message")
    expect(message.role).toBe("assistant")
    expect(message.id).toBe(`msg_${recorded.id.slice("chatcmpl-".length)}`)
    expect(message.model).toBe("gpt-4.1-nano-2025-04-14")
    expect(message.content).toEqual([{ type: "text", text: recorded.choices[0].message.content }])
    expect(message.stop_reason).toBe("end_turn")
    expect(message.stop_sequence).toBeNull()
    expect(message.usage).toEqual({ input_tokens: 16, output_tokens: 363, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
    // 16 × 0.1 + 363 × 0.4 = 146.8 micro-dollars
    expectRecord(record, {
      provider: "openai",
      model: "gpt-4.1-nano",
      stream: false,
      usage: { promptTokens: 16, completionTokens: 363, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.0001468 }
    })
  })

  it("streams text as a message", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: { bytes: 7 } })

    const { message, events, record } = await streamMessage({
      model: "gpt-4o-mini",
      max_tokens: 256,
      messages: [{ role: "user", content: "What is the capital of the UK?" }]
    })

    const body = upstream.requests.at(-1)!.json as Record<string, unknown>
    expect(body.model).toBe("gpt-4o-mini-2024-07-18")
    expect(body.stream).toBe(true)
    expect(body.stream_options).toEqual({ include_usage: true })

    expect(events.map((event) => event.type)).toEqual([
      "message_start",
      "content_block_start",
      ...Array<string>(8).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop"
    ])
    expect(message.content).toEqual([{ type: "text", text: "The capital of the UK is London." }])
    expect(message.stop_reason).toBe("end_turn")
    expect(message.usage.input_tokens).toBe(78)
    expect(message.usage.output_tokens).toBe(9)
    // 78 × 0.15 + 9 × 0.6 = 11.7 + 5.4 = 17.1 micro-dollars
    expectRecord(record, {
      provider: "openai",
      model: "gpt-4o-mini",
      stream: true,
      usage: { promptTokens: 78, completionTokens: 9, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.0000171 }
    })
  })

  it("streams a tool call as tool_use", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/tool-call-stream-usage.sse", writes: { bytes: 1 } })

    const capitalTool = {
      name: "get_capital",
      description: "The capital city of a country",
      input_schema: { type: "object" as const, properties: { country: { type: "string" } }, required: ["country"] }
    }
    const { message, record } = await streamMessage({
      model: "gpt-4o-mini",
      max_tokens: 256,
      messages: [{ role: "user", content: "What is the capital of the UK?" }],
      tools: [capitalTool],
      tool_choice: { type: "any" }
    })

    const body = upstream.requests.at(-1)!.json as Record<string, unknown>
    expect(body.tools).toEqual([
      {
        type: "function",
        function: { name: "get_capital", description: "The capital city of a country", parameters: capitalTool.input_schema }
      }
    ])
    expect(body.tool_choice).toBe("required")

    expect(message.content).toEqual([{ type: "tool_use", id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", name: "get_capital", input: { country: "UK" } }])
    expect(message.stop_reason).toBe("tool_use")
    expect(message.usage.input_tokens).toBe(53)
    expect(message.usage.output_tokens).toBe(15)
    // 53 × 0.15 + 15 × 0.6 = 7.95 + 9 = 16.95 micro-dollars
    expectRecord(record, {
      provider: "openai",
      model: "gpt-4o-mini",
      stream: true,
      usage: { promptTokens: 53, completionTokens: 15, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.00001695 }
    })
  })

  it("sends a tool result back as a tool message", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })

    const { message } = await streamMessage({
      model: "gpt-4o-mini",
      max_tokens: 256,
      messages: [
        { role: "user", content: "What is the capital of the UK?" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", name: "get_capital", input: { country: "UK" } }]
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", content: "London" }] }
      ]
    })

    const body = upstream.requests.at(-1)!.json as Record<string, unknown>
    expect(body.messages).toEqual([
      { role: "user", content: "What is the capital of the UK?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", type: "function", function: { name: "get_capital", arguments: '{"country":"UK"}' } }]
      },
      { role: "tool", tool_call_id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", content: "London" }
    ])
    expect(message.content).toEqual([{ type: "text", text: "The capital of the UK is London." }])
  })
})

// ---------------------------------------------------------------------------
// (c) Gemini models: translated
// ---------------------------------------------------------------------------

describe("messages translated to gemini", () => {
  it("answers with max_tokens when Gemini stopped at the limit", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })

    const { message, record } = await createMessage({
      model: "gemini-2.5-flash",
      max_tokens: 5,
      system: SYSTEM_PROMPT,
      messages: [{ role: "user", content: "What is the capital of France?" }]
    })

    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    expect(request.headers["x-goog-api-key"]).toBe(GEMINI_KEY)
    const body = request.json as Record<string, any>
    expect(body.systemInstruction).toEqual({ parts: [{ text: SYSTEM_PROMPT }] })
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "What is the capital of France?" }] }])
    expect(body.generationConfig?.maxOutputTokens).toBe(5)

    expect(message.content).toEqual([{ type: "text", text: "The capital of France is" }])
    expect(message.stop_reason).toBe("max_tokens")
    expect(message.usage.input_tokens).toBe(15)
    expect(message.usage.output_tokens).toBe(5)
    // 15 × 0.3 + 5 × 2.5 = 17 micro-dollars
    expectRecord(record, {
      provider: "gemini",
      model: "gemini-2.5-flash",
      stream: false,
      usage: { promptTokens: 15, completionTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.000017 }
    })
  })

  it("streams text with the last cumulative usage", async () => {
    upstream.enqueue({ fixture: "gemini/stream-generate-content/cumulative-usage-stream.sse", writes: { bytes: 7 } })

    const { message, record } = await streamMessage({
      model: "gemini-2.5-flash",
      max_tokens: 1024,
      messages: [{ role: "user", content: "Count from 1 to 30." }]
    })

    expect(upstream.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    expect(message.content).toEqual([{ type: "text", text: Array.from({ length: 30 }, (_, index) => String(index + 1)).join("\n") }])
    expect(message.stop_reason).toBe("end_turn")
    expect(message.usage.input_tokens).toBe(18)
    // Gemini's 80 candidate tokens and 35 thought tokens are both output.
    expect(message.usage.output_tokens).toBe(115)
    // 18 × 0.3 + 115 × 2.5 = 292.9 micro-dollars
    expectRecord(record, {
      provider: "gemini",
      model: "gemini-2.5-flash",
      stream: true,
      usage: { promptTokens: 18, completionTokens: 115, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 35, costUsd: 0.0002929 }
    })
  })

  it("message_start has Gemini's input tokens", async () => {
    // The recording's first event reports promptTokenCount 15 and its last 13, with responseId w1peaMz6INOvnvgPgYfPiQY.
    upstream.enqueue({ fixture: "gemini/stream-generate-content/text-stream.sse", writes: "per-event" })

    const { message, events } = await streamMessage({
      model: "gemini-2.5-flash",
      max_tokens: 1024,
      messages: [{ role: "user", content: "What is the capital of France?" }]
    })

    const start = events[0] as Anthropic.RawMessageStartEvent
    expect(start.type).toBe("message_start")
    expect(start.message.usage.input_tokens).toBe(15)
    expect(start.message.usage.output_tokens).toBe(0)
    expect(start.message.id).toBe("msg_w1peaMz6INOvnvgPgYfPiQY")
    expect(message.id).toBe("msg_w1peaMz6INOvnvgPgYfPiQY")
    // message_delta repeats the last reported counts, which replace the early ones.
    expect(message.usage.input_tokens).toBe(13)
  })

  it("streams a function call as tool_use", async () => {
    upstream.enqueue({ fixture: "gemini/stream-generate-content/tool-call-stream.chunks.txt", writes: "per-event" })

    const { message, record } = await streamMessage({
      model: "gemini-3-pro-preview",
      max_tokens: 1024,
      messages: [{ role: "user", content: "What is the weather in San Francisco?" }],
      tools: [{ ...weatherTool, name: "weather" }]
    })

    const body = upstream.requests.at(-1)!.json as Record<string, any>
    expect(body.tools[0].functionDeclarations[0].name).toBe("weather")

    // The id carries the call's thought signature after the generated call id.
    const id = expect.stringMatching(/^call_0_[0-9a-f]{12}__thought_signature__[A-Za-z0-9_-]+$/)
    expect(message.content).toEqual([{ type: "tool_use", id, name: "weather", input: { location: "San Francisco" } }])
    expect(message.stop_reason).toBe("tool_use")
    expect(message.usage.input_tokens).toBe(29)
    expect(message.usage.output_tokens).toBe(60)
    // 29 × 2 + 60 × 12 = 778 micro-dollars
    expectRecord(record, {
      provider: "gemini",
      model: "gemini-3-pro-preview",
      stream: true,
      usage: { promptTokens: 29, completionTokens: 60, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 45, costUsd: 0.000778 }
    })
  })
})

// ---------------------------------------------------------------------------
// (d) Errors in Anthropic's shape
// ---------------------------------------------------------------------------

describe("messages errors", () => {
  const question = [{ role: "user" as const, content: "Hello" }]

  it("rejects an unknown model with not_found_error", async () => {
    const requestsBefore = upstream.requests.length

    const error = await failureOf(client.messages.create({ model: "no-such-model", max_tokens: 16, messages: question }))

    expect(error).toBeInstanceOf(Anthropic.NotFoundError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(404)
    expect(apiError.type).toBe("not_found_error")
    expect(apiError.error).toEqual({ type: "error", error: { type: "not_found_error", message: apiError.apiMessage }, request_id: apiError.requestID })
    expect(apiError.apiMessage).toContain("no-such-model")
    expect(upstream.requests.length).toBe(requestsBefore)
  })

  it("unknown messages route: Anthropic shape", async () => {
    const error = await failureOf(client.messages.batches.retrieve("msgbatch_test"))

    expect(error).toBeInstanceOf(Anthropic.NotFoundError)
    const apiError = error as Anthropic.APIError
    expect(apiError.type).toBe("not_found_error")
    expect(apiError.apiMessage).toBe("Unknown route GET /v1/messages/batches/msgbatch_test.")
  })

  it("rejects a body without max_tokens with invalid_request_error", async () => {
    const params = { model: "claude-sonnet-4-5", messages: question } as unknown as Anthropic.MessageCreateParamsNonStreaming
    const requestsBefore = upstream.requests.length

    const error = await failureOf(client.messages.create(params))

    expect(error).toBeInstanceOf(Anthropic.BadRequestError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(400)
    expect(apiError.type).toBe("invalid_request_error")
    expect(apiError.apiMessage).toContain("max_tokens")
    expect(upstream.requests.length).toBe(requestsBefore)
  })

  it("rejects a temperature that is text", async () => {
    const params = { model: "gpt-4o-mini", max_tokens: 16, temperature: "hot", messages: question } as unknown as Anthropic.MessageCreateParamsNonStreaming
    const requestsBefore = upstream.requests.length

    const error = await failureOf(client.messages.create(params))

    expect(error).toBeInstanceOf(Anthropic.BadRequestError)
    expect((error as Anthropic.APIError).apiMessage).toContain("temperature")
    expect(upstream.requests.length).toBe(requestsBefore)
  })

  it("rejects text that is not JSON with invalid_request_error", async () => {
    const response = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": CLIENT_KEY },
      body: '{"model": "claude-sonnet-4-5", "max_tokens": 16,'
    })

    expect(response.status).toBe(400)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    const body = (await response.json()) as { type: string; error: { type: string; message: string }; request_id: string }
    expect(Object.keys(body).sort()).toEqual(["error", "request_id", "type"])
    expect(body.request_id).toBe(response.headers.get("request-id"))
    expect(body.type).toBe("error")
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.message).toMatch(/^The request body is not valid JSON/)
  })

  it("raises an upstream 429 as RateLimitError", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/error-429-resource-exhausted.json" })

    const error = await failureOf(client.messages.create({ model: "gemini-2.5-flash", max_tokens: 16, messages: question }))

    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(429)
    expect(apiError.error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "You exceeded your current quota, please check your plan." },
      request_id: apiError.requestID
    })
    // RetryInfo.retryDelay "34.4s", rounded up to whole seconds.
    expect(apiError.headers?.get("retry-after")).toBe("35")

    const record = await waitForRecord(gateway, apiError.headers!.get("x-fluxen-request-id")!)
    expect(record.endpoint).toBe("messages")
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(429)
  })

  it("raises an upstream 429 on a stream before it starts", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/error-429-resource-exhausted.json" })

    const stream = client.messages.stream({ model: "gemini-2.5-flash", max_tokens: 16, messages: question })
    const error = await failureOf(stream.finalMessage())

    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    expect((error as Anthropic.APIError).type).toBe("rate_limit_error")
  })

  const passthroughErrors = [
    {
      fixture: "anthropic/messages/error-400-invalid-request.json",
      errorClass: Anthropic.BadRequestError,
      status: 400
    },
    {
      fixture: "anthropic/messages/error-401-authentication.json",
      errorClass: Anthropic.AuthenticationError,
      status: 401
    }
  ] as const

  for (const expected of passthroughErrors) {
    it(`relays an anthropic ${expected.status} in its own shape`, async () => {
      upstream.enqueue({ fixture: expected.fixture })

      const error = await failureOf(client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 16, messages: question }))

      expect(error).toBeInstanceOf(expected.errorClass)
      const apiError = error as Anthropic.APIError
      expect(apiError.status).toBe(expected.status)
      expect(apiError.error).toEqual({ ...fixtureJson(expected.fixture), request_id: apiError.requestID })
      expect(JSON.stringify(apiError.error)).not.toContain(ANTHROPIC_KEY)
    })
  }

  it("maps an upstream 422 to invalid_request_error", async () => {
    // No licensed recording has a 422, so the body is written by hand in OpenAI's error shape.
    const body = '{"error":{"message":"The request could not be processed.","type":"invalid_request_error","param":null,"code":null}}'
    upstream.enqueue({ status: 422, body })

    const error = await failureOf(client.messages.create({ model: "gpt-4o-mini", max_tokens: 16, messages: question }))

    expect(error).toBeInstanceOf(Anthropic.UnprocessableEntityError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(422)
    expect(apiError.type).toBe("invalid_request_error")
  })

  it("raises an upstream timeout as timeout_error", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json", delayBeforeHeadersMs: 1000 })

    const error = await failureOf(client.messages.create({ model: "claude-slow", max_tokens: 16, messages: question }))

    expect(error).toBeInstanceOf(Anthropic.GatewayTimeoutError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(504)
    expect(apiError.type).toBe("timeout_error")
  })
})

describe("messages streams that fail after they started", () => {
  const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

  /** Streams with the SDK and returns the error it raised, with the usage record of the request. */
  const failedStream = async (params: Anthropic.MessageCreateParamsNonStreaming) => {
    const before = await recordIds(gateway)
    const stream = client.messages.stream(params)
    const texts: Array<string> = []
    stream.on("text", (text) => texts.push(text))
    const error = await failureOf(stream.finalMessage())
    const record = await waitForNewRecord(gateway, before)
    return { error, text: texts.join(""), record }
  }

  it("ends a cut-off anthropic stream with an error event", async () => {
    // Four writes are message_start, content_block_start, ping and the first text delta.
    upstream.enqueue({ fixture: "anthropic/messages/text-stream.chunks.txt", writes: "per-event", stopAfterWrites: 4 })

    const { error, text, record } = await failedStream({ model: "claude-sonnet-4-5", max_tokens: 256, messages: question })

    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as Anthropic.APIError).type).toBe("api_error")
    expect(text).toBe("Hello")
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamUnreachableError")
    // message_start reported 12 input tokens. Its output count is a placeholder, so the one
    // output token is counted from the text delivered, "Hello".
    expect(record.promptTokens).toBe(12)
    expect(record.completionTokens).toBe(1)
    expect(record.usageEstimated).toBe(true)
  })

  it("ends a cut-off translated stream with an error event", async () => {
    // Four writes are the role chunk and the deltas "The", " capital" and " of".
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", stopAfterWrites: 4 })

    const { error, text, record } = await failedStream({ model: "gpt-4o-mini", max_tokens: 256, messages: question })

    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as Anthropic.APIError).type).toBe("api_error")
    expect(text).toBe("The capital of")
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamUnreachableError")
  })

  it("fails a translated stream on an in-band error event", async () => {
    // No licensed recording has an OpenAI error event inside a stream, so the
    // last event is written by hand in the shape of OpenAI's error response bodies.
    const recorded = fixtureText("openai/chat-completions/text-stream-usage.sse").split("\n\n").slice(0, 3)
    const inBandError = 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}'
    upstream.enqueue({ body: [...recorded, inBandError, ""].join("\n\n"), headers: { "content-type": "text/event-stream" } })

    const { error, text, record } = await failedStream({ model: "gpt-4o-mini", max_tokens: 256, messages: question })

    expect(error).toBeInstanceOf(Anthropic.APIError)
    const apiError = error as Anthropic.APIError
    expect(apiError.type).toBe("api_error")
    expect(apiError.apiMessage).toBe("The server had an error while processing your request.")
    expect(text).toBe("The capital")
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamHttpError")
  })

  it("fails a translated stream that ends without [DONE]", async () => {
    // The body ends cleanly after the " of" delta, with no finish reason and no [DONE].
    const recorded = fixtureText("openai/chat-completions/text-stream-usage.sse").split("\n\n").slice(0, 4)
    upstream.enqueue({ body: [...recorded, ""].join("\n\n"), headers: { "content-type": "text/event-stream" } })

    const { error, text, record } = await failedStream({ model: "gpt-4o-mini", max_tokens: 256, messages: question })

    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as Anthropic.APIError).type).toBe("api_error")
    expect(text).toBe("The capital of")
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamUnreachableError")
  })
})
