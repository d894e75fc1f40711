/**
 * OpenAI-shaped chat through Fluxen to Anthropic's Messages API, with the
 * OpenAI SDK as the client and recorded Anthropic responses replayed by the
 * upstream. Streams are replayed with several write patterns. Every check
 * compares with numbers taken from the recordings, and every cost with a
 * hand computation from the prices in `config/pricing.json`.
 */
import OpenAI from "openai"
import { readFileSync } from "node:fs"
import type { UsageRecord } from "@fluxen/runtime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream, type WritePattern } from "../support/replayUpstream.js"
import { CLIENT_API_KEY, fixtureText, makeClient, requestIdOf, waitForRecord } from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk

const ANTHROPIC_KEY = "sk-ant-test-upstream-key"
const ANTHROPIC_VERSION = "2023-06-01"
const DEFAULT_MAX_TOKENS = 4096

const providersYaml = (upstreamUrl: string) => `  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: ${ANTHROPIC_KEY}
`

// The upstream model names are the ones in the recordings, so the analyzer
// prices them as `claude-sonnet-4-5`, `claude-sonnet-4` and `claude-3-opus-20240229`.
const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  claude-sonnet-4:
    provider: anthropic
    model: claude-sonnet-4-20250514
  claude-3-opus:
    provider: anthropic
    model: claude-3-opus-20240229
`

/** Prices in USD per million tokens, as the hand computations below use them. */
const PRICES = {
  "claude-sonnet-4-5": { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  "claude-sonnet-4": { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  "claude-3-opus-20240229": { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 }
} as const

interface ExpectedUsage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  /** Computed by hand: uncached input × input + cache read × cachedInput + cache write × cacheWrite + output × output, per million. */
  readonly costUsd: number
}

interface ExpectedToolCall {
  readonly id: string
  readonly name: string
  /** The arguments text exactly as the client must assemble it. */
  readonly arguments: string
}

interface Case {
  readonly fixture: string
  /** The model name the client sends. */
  readonly model: "claude-sonnet-4-5" | "claude-sonnet-4" | "claude-3-opus"
  readonly text: string | null
  readonly reasoning?: string
  readonly signature?: string
  readonly toolCalls: ReadonlyArray<ExpectedToolCall>
  readonly finishReason: "stop" | "length" | "tool_calls"
  readonly usage: ExpectedUsage
}

const THINKING_SIGNATURE =
  "EvQBCkYICxgCKkAxhD4NUKFzudtZ6NzbZdEiBACIScTzqjPViM596iWLZIk4EFKYYBj3B6Ptl3b0dcQv/VeJBNbejNWIWRBn+KPNEgz6HWtKx7p+QRgKsEoaDGjsiqfht7gTRFYHiyIwD1VSmNqHxv3wy8KEMP+LYb/TC4UH3H97tuoaADARFFcA0phdfxnzKQxFnc9lwY+dKlzUsaKSUAFeu1bDL5ikZJ1vL0Fkz6JjoFke0L/wOJRIUDUlDUOFJ1tZ3ea7g6LGE/5hwuvWgLwewdcm64d+43l7F57XrOmqNd6flI2K/oPr/4yzNgvi/EhT6Ca17BgB"

const streamCases: ReadonlyArray<Case> = [
  {
    fixture: "anthropic/messages/text-stream.chunks.txt",
    model: "claude-sonnet-4-5",
    text: "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
    toolCalls: [],
    finishReason: "stop",
    // 12 × 3 + 30 × 15 = 486 micro-dollars
    usage: { promptTokens: 12, completionTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.000486 }
  },
  {
    fixture: "anthropic/messages/tool-use-stream.sse",
    model: "claude-sonnet-4",
    text: "I'll check the current weather in Paris for you.",
    toolCalls: [{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", arguments: '{"location": "Paris"}' }],
    finishReason: "tool_calls",
    // 377 × 3 + 65 × 15 = 2106 micro-dollars
    usage: { promptTokens: 377, completionTokens: 65, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.002106 }
  },
  {
    fixture: "anthropic/messages/tool-use-no-args-stream.chunks.txt",
    model: "claude-sonnet-4-5",
    text: "I'll update the issue list for you.",
    toolCalls: [{ id: "toolu_01QE1WLsSVp5hy5Q3GmGTmjP", name: "updateIssueList", arguments: "{}" }],
    finishReason: "tool_calls",
    // 565 × 3 + 48 × 15 = 2415 micro-dollars
    usage: { promptTokens: 565, completionTokens: 48, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.002415 }
  },
  {
    fixture: "anthropic/messages/thinking-stream.chunks.txt",
    model: "claude-sonnet-4-5",
    text: "925 ÷ 5 = 185",
    reasoning: "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185",
    signature: THINKING_SIGNATURE,
    toolCalls: [],
    finishReason: "stop",
    // 69 × 3 + 53 × 15 = 1002 micro-dollars
    usage: { promptTokens: 69, completionTokens: 53, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.001002 }
  },
  {
    fixture: "anthropic/messages/cache-read-stream.sse",
    model: "claude-sonnet-4",
    text:
      "A **system** is an organized collection of interconnected components that work together to achieve a specific purpose or function. Here are the key characteristics:\n\n" +
      "## Core Elements of a System:\n- **Components/Parts**: Individual elements that make up the system\n" +
      "- **Relationships**: Connections and interactions between components\n" +
      "- **Purpose**: A specific goal or function the system serves\n" +
      "- **Boundaries**: What's included in vs. outside the system\n" +
      "- **Environment**: The external context in",
    toolCalls: [],
    finishReason: "length",
    // 11 × 3 + 1031 × 0.3 + 100 × 15 = 33 + 309.3 + 1500 = 1842.3 micro-dollars
    usage: { promptTokens: 1042, completionTokens: 100, cachedInputTokens: 1031, cacheWriteTokens: 0, costUsd: 0.0018423 }
  }
]

const jsonCases: ReadonlyArray<Case> = [
  {
    fixture: "anthropic/messages/text.json",
    model: "claude-sonnet-4-5",
    text: "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?",
    toolCalls: [],
    finishReason: "stop",
    // 12 × 3 + 29 × 15 = 471 micro-dollars
    usage: { promptTokens: 12, completionTokens: 29, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.000471 }
  },
  {
    fixture: "anthropic/messages/text-and-tool-use.json",
    model: "claude-3-opus",
    text:
      "<thinking>\nThe updateIssueList tool was provided in the list of available functions. The tool has no required parameters, " +
      "so it can be called without any additional information needed from the user.\n</thinking>\n\nOkay, I will update the current issue list:",
    toolCalls: [{ id: "toolu_01LRmxn9vGM1d2DZSDBowdZ1", name: "updateIssueList", arguments: "{}" }],
    finishReason: "tool_calls",
    // 602 × 15 + 93 × 75 = 9030 + 6975 = 16005 micro-dollars
    usage: { promptTokens: 602, completionTokens: 93, cachedInputTokens: 0, cacheWriteTokens: 0, costUsd: 0.016005 }
  },
  {
    fixture: "anthropic/messages/cache-read-and-write.json",
    model: "claude-sonnet-4-5",
    text: "Python is a beginner-friendly, versatile programming language widely used for web development, data science, machine learning, automation, and scientific computing.",
    toolCalls: [],
    finishReason: "stop",
    // 3 × 3 + 1111 × 0.3 + 418 × 3.75 + 33 × 15 = 9 + 333.3 + 1567.5 + 495 = 2404.8 micro-dollars
    usage: { promptTokens: 1532, completionTokens: 33, cachedInputTokens: 1111, cacheWriteTokens: 418, costUsd: 0.0024048 }
  }
]

const writePatterns: ReadonlyArray<readonly [string, WritePattern]> = [
  ["single", "single"],
  ["per-event", "per-event"],
  ["1-byte", { bytes: 1 }],
  ["7-byte", { bytes: 7 }]
]

const tools: Array<OpenAI.Chat.Completions.ChatCompletionTool> = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather of a city",
      parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
    }
  }
]

const SYSTEM_PROMPT = "You are a concise assistant."
const messages: Array<OpenAI.Chat.Completions.ChatCompletionMessageParam> = [
  { role: "system", content: SYSTEM_PROMPT },
  { role: "user", content: "Hello, how are you?" }
]

// ---------------------------------------------------------------------------
// Reading what the client received
// ---------------------------------------------------------------------------

interface AssembledToolCall {
  id: string
  name: string
  arguments: string
}

interface Assembled {
  readonly text: string | null
  readonly reasoning: string | undefined
  readonly thinkingBlocks: ReadonlyArray<Record<string, unknown>>
  readonly toolCalls: ReadonlyArray<AssembledToolCall>
  readonly finishReason: string | null
  readonly usage: OpenAI.Completions.CompletionUsage | undefined
}

/** Joins the deltas of a chat stream the way a client does: text, reasoning, thinking blocks and tool calls by index. */
const assembleChunks = (chunks: ReadonlyArray<ChatChunk>): Assembled => {
  let text: string | null = null
  let reasoning: string | undefined
  const thinkingBlocks: Array<Record<string, unknown>> = []
  const toolCalls: Array<AssembledToolCall> = []
  let finishReason: string | null = null
  let usage: OpenAI.Completions.CompletionUsage | undefined

  for (const chunk of chunks) {
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage
    for (const choice of chunk.choices) {
      const delta = choice.delta as ChatChunk["choices"][number]["delta"] & {
        reasoning_content?: string
        thinking_blocks?: Array<Record<string, unknown>>
      }
      if (typeof delta.content === "string" && delta.content !== "") text = (text ?? "") + delta.content
      if (typeof delta.reasoning_content === "string") reasoning = (reasoning ?? "") + delta.reasoning_content
      if (Array.isArray(delta.thinking_blocks)) thinkingBlocks.push(...delta.thinking_blocks)
      for (const call of delta.tool_calls ?? []) {
        const existing = toolCalls[call.index]
        if (existing === undefined) {
          toolCalls[call.index] = { id: call.id ?? "", name: call.function?.name ?? "", arguments: call.function?.arguments ?? "" }
        } else {
          existing.arguments += call.function?.arguments ?? ""
        }
      }
      if (choice.finish_reason !== null) finishReason = choice.finish_reason
    }
  }
  return { text, reasoning, thinkingBlocks, toolCalls, finishReason, usage }
}

const assembleCompletion = (completion: OpenAI.Chat.Completions.ChatCompletion): Assembled => {
  const choice = completion.choices[0]!
  const message = choice.message as OpenAI.Chat.Completions.ChatCompletionMessage & {
    reasoning_content?: string
    thinking_blocks?: Array<Record<string, unknown>>
  }
  const toolCalls = (message.tool_calls ?? []).map((call) => {
    if (call.type !== "function") throw new Error(`Expected a function tool call, got ${call.type}`)
    return { id: call.id, name: call.function.name, arguments: call.function.arguments }
  })
  return {
    text: message.content,
    reasoning: message.reasoning_content,
    thinkingBlocks: message.thinking_blocks ?? [],
    toolCalls,
    finishReason: choice.finish_reason,
    usage: completion.usage
  }
}

// ---------------------------------------------------------------------------
// Recordings turned into the other delivery form
// ---------------------------------------------------------------------------

/** Returns the JSON payloads of an Anthropic stream recording, in order. */
const anthropicPayloads = (path: string): Array<any> => {
  const text = fixtureText(path)
  const lines = path.endsWith(".chunks.txt")
    ? text.split("\n").filter((line) => line !== "")
    : text
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice("data:".length).trim())
  return lines.map((line) => JSON.parse(line))
}

/**
 * Builds the non-streamed Messages response that carries the same content
 * and the same final usage as a stream recording. It follows Anthropic's
 * stream rules: `message_start` contains the message, blocks fill from their
 * deltas, and `message_delta` replaces the stop reason and the usage fields it contains.
 */
const messageFromStream = (path: string): Record<string, any> => {
  let message: Record<string, any> = {}
  const blocks: Array<Record<string, any>> = []
  const partialJson = new Map<number, string>()
  for (const payload of anthropicPayloads(path)) {
    switch (payload.type) {
      case "message_start":
        message = structuredClone(payload.message)
        break
      case "content_block_start":
        blocks[payload.index] = structuredClone(payload.content_block)
        break
      case "content_block_delta": {
        const block = blocks[payload.index]!
        const delta = payload.delta
        if (delta.type === "text_delta") block.text += delta.text
        if (delta.type === "thinking_delta") block.thinking += delta.thinking
        if (delta.type === "signature_delta") block.signature += delta.signature
        if (delta.type === "input_json_delta") partialJson.set(payload.index, (partialJson.get(payload.index) ?? "") + delta.partial_json)
        break
      }
      case "content_block_stop": {
        const json = partialJson.get(payload.index)
        if (json !== undefined && json !== "") blocks[payload.index]!.input = JSON.parse(json)
        break
      }
      case "message_delta":
        message.stop_reason = payload.delta.stop_reason
        message.stop_sequence = payload.delta.stop_sequence
        message.usage = { ...message.usage, ...payload.usage }
        break
    }
  }
  return { ...message, content: blocks }
}

/**
 * Builds an Anthropic stream that delivers a non-streamed recording: input
 * and cache counts in `message_start`, one delta per block, and the output
 * count in `message_delta`, as Anthropic streams do.
 */
const streamFromMessage = (path: string): string => {
  const message = JSON.parse(fixtureText(path)) as Record<string, any>
  const { output_tokens: outputTokens, ...inputUsage } = message.usage
  const payloads: Array<Record<string, unknown>> = [
    {
      type: "message_start",
      message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...inputUsage, output_tokens: 1 } }
    }
  ]
  message.content.forEach((block: Record<string, any>, index: number) => {
    if (block.type === "text") {
      payloads.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } })
      payloads.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: block.text } })
    } else if (block.type === "tool_use") {
      payloads.push({ type: "content_block_start", index, content_block: { ...block, input: {} } })
      payloads.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } })
    } else {
      throw new Error(`The recording ${path} has a ${block.type} block, which this conversion does not handle`)
    }
    payloads.push({ type: "content_block_stop", index })
  })
  payloads.push({
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
    usage: { output_tokens: outputTokens }
  })
  payloads.push({ type: "message_stop" })
  return payloads.map((payload) => `event: ${String(payload.type)}\ndata: ${JSON.stringify(payload)}\n\n`).join("")
}

// ---------------------------------------------------------------------------
// Setup and calls
// ---------------------------------------------------------------------------

let upstream: ReplayUpstream
let gateway: TestGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({ upstreamUrl: upstream.url, providersYaml: providersYaml(upstream.url), modelsYaml })
  client = makeClient(gateway)
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const streamChat = async (model: string): Promise<{ assembled: Assembled; record: UsageRecord }> => {
  const { data: stream, response } = await client.chat.completions
    .create({ model, messages, tools, stream: true, stream_options: { include_usage: true } })
    .withResponse()
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  const record = await waitForRecord(gateway, requestIdOf(response.headers))
  return { assembled: assembleChunks(chunks), record }
}

const completeChat = async (model: string): Promise<{ assembled: Assembled; record: UsageRecord }> => {
  const { data: completion, response } = await client.chat.completions.create({ model, messages, tools }).withResponse()
  const record = await waitForRecord(gateway, requestIdOf(response.headers))
  return { assembled: assembleCompletion(completion), record }
}

/** Replaces each tool call's arguments text with its parsed value, for comparisons that ignore JSON formatting. */
const withParsedArguments = <A extends { readonly toolCalls: ReadonlyArray<{ readonly arguments: string }> }>(value: A): A => ({
  ...value,
  toolCalls: value.toolCalls.map((call) => ({ ...call, arguments: JSON.parse(call.arguments) }))
})

const expectContent = (assembled: Assembled, expected: Case): void => {
  expect(assembled.text).toBe(expected.text)
  expect(assembled.toolCalls).toEqual(expected.toolCalls)
  expect(assembled.finishReason).toBe(expected.finishReason)
  if (expected.reasoning === undefined) {
    expect(assembled.reasoning).toBeUndefined()
    expect(assembled.thinkingBlocks).toEqual([])
  } else {
    expect(assembled.reasoning).toBe(expected.reasoning)
    expect(assembled.thinkingBlocks).toEqual([{ type: "thinking", thinking: expected.reasoning, signature: expected.signature }])
  }
}

const expectClientUsage = (assembled: Assembled, expected: ExpectedUsage): void => {
  expect(assembled.usage?.prompt_tokens).toBe(expected.promptTokens)
  expect(assembled.usage?.completion_tokens).toBe(expected.completionTokens)
  expect(assembled.usage?.total_tokens).toBe(expected.promptTokens + expected.completionTokens)
  expect(assembled.usage?.prompt_tokens_details?.cached_tokens).toBe(expected.cachedInputTokens)
}

const expectRecord = (record: UsageRecord, expected: Case, stream: boolean): void => {
  expect(record.status).toBe("ok")
  expect(record.httpStatus).toBe(200)
  expect(record.endpoint).toBe("chat")
  expect(record.stream).toBe(stream)
  expect(record.provider).toBe("anthropic")
  expect(record.requestedModel).toBe(expected.model)
  expect(record.usageEstimated).toBe(false)
  expect(record.promptTokens).toBe(expected.usage.promptTokens)
  expect(record.completionTokens).toBe(expected.usage.completionTokens)
  expect(record.cachedInputTokens).toBe(expected.usage.cachedInputTokens)
  expect(record.cacheWriteTokens).toBe(expected.usage.cacheWriteTokens)
  expect(record.reasoningTokens).toBe(0)
  expect(record.costUsd).toBeCloseTo(expected.usage.costUsd, 12)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("anthropic prices", () => {
  it("match the prices of the hand computations", () => {
    const pricing = JSON.parse(readFileSync(new URL("../../../config/pricing.json", import.meta.url), "utf8")) as {
      models: Record<string, Record<string, unknown>>
    }
    for (const [name, price] of Object.entries(PRICES)) {
      expect(pricing.models[name], name).toMatchObject(price)
    }
  })
})

describe("anthropic streams", () => {
  for (const expected of streamCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    describe(name, () => {
      const received = new Map<string, Assembled>()

      it.each(writePatterns)("assembles from %s writes", async (pattern, writes) => {
        upstream.enqueue({ fixture: expected.fixture, writes })

        const { assembled, record } = await streamChat(expected.model)
        received.set(pattern, assembled)

        expectContent(assembled, expected)
        expectClientUsage(assembled, expected.usage)
        expectRecord(record, expected, true)
      })

      it("gives the same result for every write pattern", () => {
        expect([...received.keys()]).toEqual(writePatterns.map(([pattern]) => pattern))
        for (const [, assembled] of received) expect(assembled).toEqual(received.get("single"))
      })
    })
  }
})

describe("anthropic json responses", () => {
  for (const expected of jsonCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    it(`translates ${name}`, async () => {
      upstream.enqueue({ fixture: expected.fixture })

      const { assembled, record } = await completeChat(expected.model)

      expectContent(assembled, expected)
      expectClientUsage(assembled, expected.usage)
      expect((assembled.usage?.prompt_tokens_details as { cache_write_tokens?: number } | undefined)?.cache_write_tokens).toBe(
        expected.usage.cacheWriteTokens
      )
      expectRecord(record, expected, false)
    })
  }
})

describe("anthropic stream and json agree", () => {
  for (const expected of streamCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    it(`records ${name} the same as its json form`, async () => {
      upstream.enqueue({ fixture: expected.fixture, writes: { bytes: 7 } })
      const streamed = await streamChat(expected.model)
      upstream.enqueue({ body: JSON.stringify(messageFromStream(expected.fixture)) })
      const whole = await completeChat(expected.model)

      // The JSON form serializes the tool input without the recording's spaces, so arguments compare as parsed JSON.
      expectContent(withParsedArguments(whole.assembled), withParsedArguments(expected))
      expectRecord(whole.record, expected, false)
      expect(withParsedArguments(whole.assembled)).toEqual({ ...withParsedArguments(streamed.assembled), usage: whole.assembled.usage })
      expectClientUsage(whole.assembled, expected.usage)
    })
  }

  for (const expected of jsonCases) {
    const name = expected.fixture.slice(expected.fixture.lastIndexOf("/") + 1)
    it(`records ${name} the same as its stream form`, async () => {
      upstream.enqueue({ fixture: expected.fixture })
      const whole = await completeChat(expected.model)
      upstream.enqueue({ body: streamFromMessage(expected.fixture), headers: { "content-type": "text/event-stream" }, writes: { bytes: 5 } })
      const streamed = await streamChat(expected.model)

      expectContent(streamed.assembled, expected)
      expectClientUsage(streamed.assembled, expected.usage)
      expectRecord(streamed.record, expected, true)
      expect(streamed.record.costUsd).toBe(whole.record.costUsd)
    })
  }
})

describe("anthropic upstream request", () => {
  it("carries the key, version, system and max_tokens", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })
    await client.chat.completions.create({ model: "claude-sonnet-4-5", messages })

    const request = upstream.requests.at(-1)!
    expect(request.method).toBe("POST")
    expect(request.path).toBe("/v1/messages")
    expect(request.headers["x-api-key"]).toBe(ANTHROPIC_KEY)
    expect(request.headers["anthropic-version"]).toBe(ANTHROPIC_VERSION)
    expect(request.headers["authorization"]).toBeUndefined()
    expect(JSON.stringify(request.headers)).not.toContain(CLIENT_API_KEY)
    expect(request.json).toEqual({
      model: "claude-sonnet-4-5-20250929",
      system: [{ type: "text", text: SYSTEM_PROMPT }],
      messages: [{ role: "user", content: [{ type: "text", text: "Hello, how are you?" }] }],
      max_tokens: DEFAULT_MAX_TOKENS
    })
  })

  it("streams with the client's max_tokens and tools", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/tool-use-stream.sse" })
    const stream = await client.chat.completions.create({
      model: "claude-sonnet-4",
      messages,
      tools,
      max_completion_tokens: 300,
      stream: true
    })
    for await (const _chunk of stream) {
      // The request is what this test checks.
    }

    const request = upstream.requests.at(-1)!
    const body = request.json as Record<string, unknown>
    expect(request.headers["x-api-key"]).toBe(ANTHROPIC_KEY)
    expect(request.headers["anthropic-version"]).toBe(ANTHROPIC_VERSION)
    expect(request.headers["accept"]).toBe("text/event-stream")
    expect(body.model).toBe("claude-sonnet-4-20250514")
    expect(body.system).toEqual([{ type: "text", text: SYSTEM_PROMPT }])
    expect(body.max_tokens).toBe(300)
    expect(body.stream).toBe(true)
    expect(body.stream_options).toBeUndefined()
    expect(body.tools).toEqual([
      {
        name: "get_weather",
        description: "Current weather of a city",
        input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
      }
    ])
  })
})

describe("anthropic errors", () => {
  const errorCases = [
    {
      fixture: "anthropic/messages/error-400-invalid-request.json",
      status: 400,
      errorClass: OpenAI.BadRequestError,
      type: "invalid_request_error",
      message: "messages.0: Input does not match the expected shape."
    },
    {
      fixture: "anthropic/messages/error-401-authentication.json",
      status: 401,
      errorClass: OpenAI.AuthenticationError,
      type: "authentication_error",
      message: "invalid x-api-key"
    }
  ] as const

  for (const expected of errorCases) {
    for (const stream of [false, true]) {
      it(`relays HTTP ${expected.status} to a ${stream ? "streaming" : "non-streaming"} client`, async () => {
        upstream.enqueue({ fixture: expected.fixture })

        const call = stream
          ? client.chat.completions.create({ model: "claude-sonnet-4-5", messages, stream: true })
          : client.chat.completions.create({ model: "claude-sonnet-4-5", messages })
        const error = await call.then(
          () => undefined,
          (caught: unknown) => caught
        )

        expect(error).toBeInstanceOf(expected.errorClass)
        const apiError = error as OpenAI.APIError
        expect(apiError.status).toBe(expected.status)
        expect(apiError.error).toEqual({ message: expected.message, type: expected.type, param: null, code: null })
        expect(apiError.message).toBe(`${expected.status} ${expected.message}`)
        expect(JSON.stringify(apiError.error)).not.toContain(ANTHROPIC_KEY)
        expect(JSON.stringify([...apiError.headers!])).not.toContain(ANTHROPIC_KEY)

        const record = await waitForRecord(gateway, apiError.headers!.get("x-fluxen-request-id")!)
        expect(record.status).toBe("error")
        expect(record.httpStatus).toBe(expected.status)
        expect(record.stream).toBe(stream)
        expect(record.promptTokens).toBeNull()
        expect(record.costUsd).toBe(0)
      })
    }
  }
})
