/**
 * Multi-turn tool loops through Fluxen with the OpenAI SDK. The client sends
 * the assistant message back as Fluxen returned it, plus a tool result, and
 * the second upstream request must carry what the provider needs to
 * continue: Anthropic's signed thinking block first in the assistant turn,
 * and Gemini's thought signature on the part it came with.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { anthropicProviderYaml, geminiProviderYaml, geminiResponseFromStream, makeClient, NO_PLUGINS, streamPayloads } from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk
type MessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam

const providersYaml = (upstreamUrl: string) => anthropicProviderYaml(upstreamUrl) + geminiProviderYaml(upstreamUrl)

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  gemini-3-pro-preview:
    provider: gemini
`

let upstream: ReplayUpstream
let gateway: TestGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({
    upstreamUrl: upstream.url,
    providersYaml: providersYaml(upstream.url),
    modelsYaml,
    pluginsYaml: NO_PLUGINS
  })
  client = makeClient(gateway)
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

// ---------------------------------------------------------------------------
// Recordings
// ---------------------------------------------------------------------------

const anthropicSse = (payloads: ReadonlyArray<Record<string, unknown>>): string =>
  payloads.map((payload) => `event: ${String(payload.type)}\ndata: ${JSON.stringify(payload)}\n\n`).join("")

const thinkingPayloads = streamPayloads("anthropic/messages/thinking-stream.chunks.txt")
const toolUsePayloads = streamPayloads("anthropic/messages/tool-use-stream.sse")

const THINKING_TEXT = "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185"
const THINKING_SIGNATURE: string = thinkingPayloads.find((payload) => payload.delta?.type === "signature_delta").delta.signature
const TOOL_TEXT = "I'll check the current weather in Paris for you."
const TOOL_USE_ID = "toolu_01NRLabsLyVHZPKxbKvkfSMn"

/**
 * Builds turn 1 of the Anthropic loop: a thinking block, a text block and a
 * tool_use block. No recording has thinking and tool_use in one response, so
 * this stream is put together by hand from two recordings. The message_start
 * and the thinking block come from `thinking-stream.chunks.txt`. The text and
 * tool_use blocks (moved to indexes 1 and 2), message_delta and message_stop
 * come from `tool-use-stream.sse`.
 */
const thinkingToolStreamPayloads = (): Array<Record<string, unknown>> => {
  const thinkingBlockEnd = thinkingPayloads.findIndex((payload) => payload.type === "content_block_stop" && payload.index === 0)
  const thinkingPart = thinkingPayloads.slice(0, thinkingBlockEnd + 1)
  const toolPart = toolUsePayloads
    .filter((payload) => payload.type.startsWith("content_block_") || payload.type === "ping")
    .map((payload) => (typeof payload.index === "number" ? { ...payload, index: payload.index + 1 } : payload))
  const ending = toolUsePayloads.filter((payload) => payload.type === "message_delta" || payload.type === "message_stop")
  return [...thinkingPart, ...toolPart, ...ending]
}

/** The same turn 1 as a non-streamed Messages response. */
const thinkingToolMessage = (): Record<string, unknown> => ({
  ...thinkingPayloads[0].message,
  content: [
    { type: "thinking", thinking: THINKING_TEXT, signature: THINKING_SIGNATURE },
    { type: "text", text: TOOL_TEXT },
    { type: "tool_use", id: TOOL_USE_ID, name: "get_weather", input: { location: "Paris" } }
  ],
  stop_reason: "tool_use",
  usage: { ...thinkingPayloads[0].message.usage, output_tokens: 65 }
})

// ---------------------------------------------------------------------------
// The assistant message as a client keeps it
// ---------------------------------------------------------------------------

interface AssistantTurn {
  readonly role: "assistant"
  content: string | null
  tool_calls?: Array<Record<string, any>>
  reasoning_content?: string
  thinking_blocks?: Array<Record<string, unknown>>
  extra_content?: unknown
}

/**
 * Rebuilds the assistant message from streamed deltas, keeping every field
 * Fluxen sent: text, tool calls with their extra fields, `reasoning_content`,
 * `thinking_blocks` and a message-level `extra_content`.
 */
const assistantFromChunks = (chunks: ReadonlyArray<ChatChunk>): AssistantTurn => {
  const message: AssistantTurn = { role: "assistant", content: null }
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      const { content, tool_calls: toolCalls, role: _role, ...extra } = choice.delta as Record<string, any>
      if (typeof content === "string" && content !== "") message.content = (message.content ?? "") + content
      if (typeof extra.reasoning_content === "string") message.reasoning_content = (message.reasoning_content ?? "") + extra.reasoning_content
      if (Array.isArray(extra.thinking_blocks)) message.thinking_blocks = [...(message.thinking_blocks ?? []), ...extra.thinking_blocks]
      if (extra.extra_content !== undefined) message.extra_content = extra.extra_content
      for (const call of toolCalls ?? []) {
        message.tool_calls ??= []
        const existing = message.tool_calls[call.index]
        if (existing === undefined) {
          const { index: _index, ...rest } = call
          message.tool_calls[call.index] = { ...rest, function: { ...rest.function } }
        } else {
          existing.function.arguments += call.function?.arguments ?? ""
        }
      }
    }
  }
  return message
}

const streamTurn = async (params: { model: string; messages: Array<MessageParam>; reasoning_effort?: "low" }) => {
  const stream = await client.chat.completions.create({ ...params, tools, stream: true })
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  return { assistant: assistantFromChunks(chunks), finishReason: chunks.findLast((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason }
}

const completeTurn = async (params: { model: string; messages: Array<MessageParam>; reasoning_effort?: "low" }) => {
  const completion = await client.chat.completions.create({ ...params, tools })
  const { refusal: _refusal, annotations: _annotations, ...message } = completion.choices[0]!.message as unknown as Record<string, unknown>
  return { assistant: message as unknown as AssistantTurn, finishReason: completion.choices[0]!.finish_reason }
}

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

// ---------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------

describe("anthropic tool loop with thinking", () => {
  const question = "What is 925 divided by 5, and what is the weather in Paris?"
  // System and developer messages around the user's turn, as agent frameworks send them.
  const firstMessages: Array<MessageParam> = [
    { role: "developer", content: "You may call tools." },
    { role: "user", content: question },
    { role: "system", content: "Use metric units." },
    { role: "developer", content: "Keep answers short." }
  ]
  const expectedSystem = [
    { type: "text", text: "You may call tools." },
    { type: "text", text: "Use metric units." },
    { type: "text", text: "Keep answers short." }
  ]
  const toolResult = "18°C and cloudy"

  const deliveries = [
    {
      name: "streamed",
      enqueueTurn1: () =>
        upstream.enqueue({ body: anthropicSse(thinkingToolStreamPayloads()), headers: { "content-type": "text/event-stream" }, writes: { bytes: 7 } }),
      enqueueTurn2: () => upstream.enqueue({ fixture: "anthropic/messages/text-stream.chunks.txt" }),
      run: streamTurn
    },
    {
      name: "non-streamed",
      enqueueTurn1: () => upstream.enqueue({ body: JSON.stringify(thinkingToolMessage()) }),
      enqueueTurn2: () => upstream.enqueue({ fixture: "anthropic/messages/text.json" }),
      run: completeTurn
    }
  ]

  for (const delivery of deliveries) {
    it(`sends the signed thinking back first (${delivery.name})`, async () => {
      delivery.enqueueTurn1()
      const turn1 = await delivery.run({ model: "claude-sonnet-4-5", messages: firstMessages, reasoning_effort: "low" })

      const request1 = upstream.requests.at(-1)!.json as Record<string, any>
      expect(request1.system).toEqual(expectedSystem)
      expect(request1.messages).toEqual([{ role: "user", content: [{ type: "text", text: question }] }])
      expect(request1.thinking).toEqual({ type: "enabled", budget_tokens: 2048 })

      expect(turn1.finishReason).toBe("tool_calls")
      expect(turn1.assistant.reasoning_content).toBe(THINKING_TEXT)
      expect(turn1.assistant.thinking_blocks).toEqual([{ type: "thinking", thinking: THINKING_TEXT, signature: THINKING_SIGNATURE }])
      expect(turn1.assistant.content).toBe(TOOL_TEXT)
      expect(turn1.assistant.tool_calls).toHaveLength(1)
      const call = turn1.assistant.tool_calls![0]!
      expect(call.id).toBe(TOOL_USE_ID)
      expect(call.function.name).toBe("get_weather")
      expect(JSON.parse(call.function.arguments)).toEqual({ location: "Paris" })

      delivery.enqueueTurn2()
      await delivery.run({
        model: "claude-sonnet-4-5",
        messages: [...firstMessages, turn1.assistant as MessageParam, { role: "tool", tool_call_id: call.id, content: toolResult }],
        reasoning_effort: "low"
      })

      const request2 = upstream.requests.at(-1)!.json as Record<string, any>
      expect(request2.system).toEqual(expectedSystem)
      expect(request2.thinking).toEqual({ type: "enabled", budget_tokens: 2048 })
      expect(request2.messages).toEqual([
        { role: "user", content: [{ type: "text", text: question }] },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: THINKING_TEXT, signature: THINKING_SIGNATURE },
            { type: "text", text: TOOL_TEXT },
            { type: "tool_use", id: TOOL_USE_ID, name: "get_weather", input: { location: "Paris" } }
          ]
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: TOOL_USE_ID, content: toolResult }] }
      ])
    })
  }

  it("collects system messages from any position in order", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    await client.chat.completions.create({
      model: "claude-sonnet-4-5",
      messages: [
        { role: "system", content: "First system." },
        { role: "user", content: "Question one." },
        { role: "assistant", content: "Answer one." },
        { role: "developer", content: "First developer." },
        { role: "user", content: "Question two." },
        { role: "system", content: [{ type: "text", text: "Second system." }] },
        { role: "user", content: "Question three." },
        { role: "developer", content: "Second developer." }
      ]
    })

    const request = upstream.requests.at(-1)!.json as Record<string, any>
    expect(request.system).toEqual([
      { type: "text", text: "First system." },
      { type: "text", text: "First developer." },
      { type: "text", text: "Second system." },
      { type: "text", text: "Second developer." }
    ])
    // A system message between two user messages leaves one user turn, because Anthropic needs alternating roles.
    expect(request.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Question one." }] },
      { role: "assistant", content: [{ type: "text", text: "Answer one." }] },
      {
        role: "user",
        content: [
          { type: "text", text: "Question two." },
          { type: "text", text: "Question three." }
        ]
      }
    ])
  })
})

// ---------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------

describe("gemini tool loop with thought signatures", () => {
  const toolCallPayloads = streamPayloads("gemini/stream-generate-content/tool-call-stream.chunks.txt")
  const CALL_SIGNATURE: string = toolCallPayloads[0].candidates[0].content.parts[0].thoughtSignature
  const textPayloads = streamPayloads("gemini/stream-generate-content/thinking-signature-stream.chunks.txt")
  const TEXT_SIGNATURE: string = textPayloads.at(-1).candidates[0].content.parts[0].thoughtSignature
  const ANSWER = 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'

  const question = "What is the weather in San Francisco?"
  const firstMessages: Array<MessageParam> = [
    { role: "system", content: "Use the tools." },
    { role: "user", content: question }
  ]

  const turnFixtures = [
    "gemini/stream-generate-content/tool-call-stream.chunks.txt",
    "gemini/stream-generate-content/thinking-signature-stream.chunks.txt",
    "gemini/stream-generate-content/text-stream.sse"
  ] as const

  const deliveries = [
    {
      name: "streamed",
      enqueueTurn: (turn: number) => upstream.enqueue({ fixture: turnFixtures[turn - 1]!, writes: { bytes: 7 } }),
      run: streamTurn
    },
    {
      name: "non-streamed",
      enqueueTurn: (turn: number) => upstream.enqueue({ body: JSON.stringify(geminiResponseFromStream(turnFixtures[turn - 1]!)) }),
      run: completeTurn
    }
  ]

  for (const delivery of deliveries) {
    it(`restores the signature on the function call (${delivery.name})`, async () => {
      delivery.enqueueTurn(1)
      const turn1 = await delivery.run({ model: "gemini-3-pro-preview", messages: firstMessages })

      expect(turn1.finishReason).toBe("tool_calls")
      expect(turn1.assistant.tool_calls).toHaveLength(1)
      const call = turn1.assistant.tool_calls![0]!
      expect(call.id).toMatch(/^call_0_[0-9a-f]{12}$/)
      expect(call.function).toEqual({ name: "weather", arguments: '{"location":"San Francisco"}' })
      expect(call.extra_content).toEqual({ google: { thought_signature: CALL_SIGNATURE } })

      delivery.enqueueTurn(2)
      const turn2Messages: Array<MessageParam> = [
        ...firstMessages,
        turn1.assistant as MessageParam,
        { role: "tool", tool_call_id: call.id, content: '{"temperature": 18, "unit": "C"}' }
      ]
      const turn2 = await delivery.run({ model: "gemini-3-pro-preview", messages: turn2Messages })

      const request2 = upstream.requests.at(-1)!.json as Record<string, any>
      expect(request2.systemInstruction).toEqual({ parts: [{ text: "Use the tools." }] })
      expect(request2.contents).toEqual([
        { role: "user", parts: [{ text: question }] },
        { role: "model", parts: [{ functionCall: { name: "weather", args: { location: "San Francisco" } }, thoughtSignature: CALL_SIGNATURE }] },
        { role: "user", parts: [{ functionResponse: { name: "weather", response: { temperature: 18, unit: "C" } } }] }
      ])

      // Turn 2's response carried its signature on a text part, which comes back on the message.
      expect(turn2.assistant.content).toBe(ANSWER)
      expect(turn2.assistant.extra_content).toEqual({ google: { thought_signature: TEXT_SIGNATURE } })

      delivery.enqueueTurn(3)
      await delivery.run({
        model: "gemini-3-pro-preview",
        messages: [...turn2Messages, turn2.assistant as MessageParam, { role: "user", content: "Thanks." }]
      })

      const request3 = upstream.requests.at(-1)!.json as Record<string, any>
      expect(request3.contents.slice(3)).toEqual([
        { role: "model", parts: [{ text: ANSWER, thoughtSignature: TEXT_SIGNATURE }] },
        { role: "user", parts: [{ text: "Thanks." }] }
      ])
    })
  }
})
