/**
 * Cache hits of responses that carry what a client must send back on the next
 * turn: Gemini's thought signatures (`extra_content` on a tool call or on the
 * message) and Anthropic's thinking (`reasoning_content` and the signed
 * `thinking_blocks`). A hit must give back the same message as the miss that
 * stored it, whether each of them was streamed or not.
 */
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { makeClient } from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk

const providersYaml = (upstreamUrl: string) => `  gemini:
    use: "@fluxen/provider-gemini"
    config:
      baseUrl: ${upstreamUrl}/v1beta
      apiKey: gemini-test-upstream-key
  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: anthropic-test-upstream-key
`

const modelsYaml = `  gemini-3-pro-preview:
    provider: gemini
  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
`

const pluginsYaml = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/cache"
`

const tools: Array<OpenAI.Chat.Completions.ChatCompletionTool> = [
  {
    type: "function",
    function: {
      name: "weather",
      description: "Current weather of a city",
      parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
    }
  }
]

/** The message fields a client sends back on the next turn. */
interface ReturnedMessage {
  readonly content: string | null
  readonly reasoning: string | undefined
  readonly thinkingBlocks: ReadonlyArray<unknown> | undefined
  readonly messageExtra: unknown
  readonly toolCalls: ReadonlyArray<{ readonly id: string; readonly arguments: string; readonly extra: unknown }>
}

const returnedMessage = (message: Record<string, any>): ReturnedMessage => ({
  content: message.content ?? null,
  reasoning: message.reasoning_content,
  thinkingBlocks: message.thinking_blocks,
  messageExtra: message.extra_content,
  toolCalls: (message.tool_calls ?? []).map((call: any) => ({ id: call.id, arguments: call.function.arguments, extra: call.extra_content }))
})

/**
 * Folds streamed chunks into the message a client keeps. The OpenAI SDK's
 * stream helper keeps only the last `reasoning_content` delta, so the test
 * folds the chunks itself: text and reasoning concatenate, thinking blocks
 * add up, and `extra_content` keeps its last value.
 */
const foldChunks = (chunks: ReadonlyArray<ChatChunk>): ReturnedMessage => {
  let content: string | null = null
  let reasoning: string | undefined
  let thinkingBlocks: Array<unknown> | undefined
  let messageExtra: unknown
  const toolCalls: Array<{ id: string; arguments: string; extra: unknown }> = []
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      const delta = choice.delta as Record<string, any>
      if (typeof delta.content === "string") content = (content ?? "") + delta.content
      if (typeof delta.reasoning_content === "string") reasoning = (reasoning ?? "") + delta.reasoning_content
      if (Array.isArray(delta.thinking_blocks)) thinkingBlocks = [...(thinkingBlocks ?? []), ...delta.thinking_blocks]
      if (delta.extra_content !== undefined) messageExtra = delta.extra_content
      for (const call of delta.tool_calls ?? []) {
        const tool = (toolCalls[call.index] ??= { id: "", arguments: "", extra: undefined })
        if (call.id) tool.id = call.id
        tool.arguments += call.function?.arguments ?? ""
        if (call.extra_content !== undefined) tool.extra = call.extra_content
      }
    }
  }
  return { content, reasoning, thinkingBlocks, messageExtra, toolCalls }
}

let upstream: ReplayUpstream
let gateway: TestGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({ upstreamUrl: upstream.url, providersYaml: providersYaml(upstream.url), modelsYaml, pluginsYaml })
  client = makeClient(gateway)
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const ask = (question: string): Array<OpenAI.Chat.Completions.ChatCompletionMessageParam> => [{ role: "user", content: question }]

const streamed = async (model: string, question: string) => {
  const { data: stream, response } = await client.chat.completions
    .create({ model, messages: ask(question), tools, max_tokens: 2048, stream: true })
    .withResponse()
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  return { message: foldChunks(chunks), cache: response.headers.get("x-fluxen-cache") }
}

const whole = async (model: string, question: string) => {
  const { data, response } = await client.chat.completions.create({ model, messages: ask(question), tools, max_tokens: 2048 }).withResponse()
  return { message: returnedMessage(data.choices[0]!.message as unknown as Record<string, any>), cache: response.headers.get("x-fluxen-cache") }
}

interface HitCase {
  readonly name: string
  readonly fixture: string
  readonly model: string
  /** How the hit is requested. The miss that stores the response is always streamed. */
  readonly hit: "stream" | "json"
  /** Checks that the miss carried what the hit must keep, so that an empty pair cannot pass. */
  readonly expectCarried: (miss: ReturnedMessage) => void
}

const signedToolCall = (miss: ReturnedMessage) =>
  expect(miss.toolCalls[0]?.extra).toMatchObject({ google: { thought_signature: expect.any(String) } })
const signedThinking = (miss: ReturnedMessage) => {
  expect(miss.reasoning).toEqual(expect.any(String))
  expect(miss.thinkingBlocks).toEqual([expect.objectContaining({ type: "thinking", signature: expect.any(String) })])
}

const hitCases: ReadonlyArray<HitCase> = [
  { name: "gemini tool call signature, JSON hit", fixture: "gemini/stream-generate-content/tool-call-stream.chunks.txt", model: "gemini-3-pro-preview", hit: "json", expectCarried: signedToolCall },
  { name: "gemini tool call signature, streamed hit", fixture: "gemini/stream-generate-content/tool-call-stream.chunks.txt", model: "gemini-3-pro-preview", hit: "stream", expectCarried: signedToolCall },
  {
    name: "gemini text signature, JSON hit",
    fixture: "gemini/stream-generate-content/thinking-signature-stream.chunks.txt",
    model: "gemini-3-pro-preview",
    hit: "json",
    expectCarried: (miss) => expect(miss.messageExtra).toMatchObject({ google: { thought_signature: expect.any(String) } })
  },
  { name: "anthropic thinking, JSON hit", fixture: "anthropic/messages/thinking-stream.chunks.txt", model: "claude-sonnet-4-5", hit: "json", expectCarried: signedThinking },
  { name: "anthropic thinking, streamed hit", fixture: "anthropic/messages/thinking-stream.chunks.txt", model: "claude-sonnet-4-5", hit: "stream", expectCarried: signedThinking }
]

describe("cache hits keep what goes back", () => {
  for (const [index, hitCase] of hitCases.entries()) {
    it(hitCase.name, async () => {
      const question = `Question ${index}: ${hitCase.name}?`
      upstream.enqueue({ fixture: hitCase.fixture })

      const miss = await streamed(hitCase.model, question)
      const hit = hitCase.hit === "stream" ? await streamed(hitCase.model, question) : await whole(hitCase.model, question)

      expect(miss.cache).toBe("miss")
      expect(hit.cache).toBe("hit")
      hitCase.expectCarried(miss.message)
      expect(hit.message).toEqual(miss.message)
    })
  }
})
