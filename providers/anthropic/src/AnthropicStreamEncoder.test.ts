import Anthropic from "@anthropic-ai/sdk"
import { describe, expect, it } from "@effect/vitest"
import { SseParser, UpstreamProtocolError, type ChatCompletionChunk, type StreamEvent } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { collectEvents, makeContext, makeFakeTransport, streamFixtureBytes, toSseText } from "../test/support.js"
import { makeAnthropicAdapter } from "./AnthropicAdapter.js"
import { AnthropicStreamEncoder } from "./AnthropicStreamEncoder.js"

/** An Anthropic client whose `fetch` returns this SSE body for every request, so no server is involved. */
const clientServing = (sse: string | Uint8Array) =>
  new Anthropic({
    apiKey: "test",
    baseURL: "http://127.0.0.1:9",
    maxRetries: 0,
    fetch: async () => new Response(typeof sse === "string" ? sse : sse.slice(), { status: 200, headers: { "content-type": "text/event-stream" } })
  })

const finalMessage = (sse: string | Uint8Array) =>
  Effect.promise(() =>
    clientServing(sse)
      .messages.stream({ model: "claude", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] })
      .finalMessage()
  )

const encode = (chunks: ReadonlyArray<ChatCompletionChunk>): Array<StreamEvent> => {
  const encoder = new AnthropicStreamEncoder({ provider: "upstream-test" })
  return [...chunks.flatMap((chunk) => encoder.push(chunk)), ...encoder.finish()]
}

/** The chat chunks the adapter produces for an Anthropic recording. */
const chunksFromAnthropicFixture = (fixture: string) =>
  Effect.gen(function* () {
    const adapter = makeAnthropicAdapter(
      { provider: "a", baseUrl: "https://anthropic.invalid/v1", apiKey: Redacted.make("k"), version: "2023-06-01", defaultMaxTokens: 10 },
      makeFakeTransport({ body: streamFixtureBytes(fixture) })
    )
    const result = yield* adapter.chatStream({ model: "m", messages: [{ role: "user", content: "Hi" }] }, makeContext())
    const { events } = yield* Effect.promise(() => collectEvents(result.events))
    return events.filter((event) => event.done !== true).map((event) => event.json as ChatCompletionChunk)
  })

const normalizeBlock = (block: any) => {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text }
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input }
    case "thinking":
      return { type: "thinking", thinking: block.thinking, signature: block.signature }
    default:
      return block
  }
}

const usageCounts = (usage: any) => ({
  input_tokens: usage.input_tokens,
  output_tokens: usage.output_tokens,
  cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
  cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0
})

describe("Anthropic → OpenAI → Anthropic stream", () => {
  const fixtures = [
    "text-stream.chunks.txt",
    "tool-use-stream.sse",
    "tool-use-no-args-stream.chunks.txt",
    "thinking-stream.chunks.txt",
    "cache-read-stream.sse"
  ]
  for (const fixture of fixtures) {
    it.effect(`${fixture} survives round trip`, () =>
      Effect.gen(function* () {
        const original = yield* finalMessage(streamFixtureBytes(fixture))
        const chunks = yield* chunksFromAnthropicFixture(fixture)
        const roundTripped = yield* finalMessage(toSseText(encode(chunks)))

        expect(roundTripped.content.map(normalizeBlock)).toEqual(original.content.map(normalizeBlock))
        expect(roundTripped.stop_reason).toBe(original.stop_reason)
        expect(roundTripped.id).toBe(original.id)
        expect(roundTripped.model).toBe(original.model)
        expect(usageCounts(roundTripped.usage)).toEqual(usageCounts(original.usage))
      })
    )
  }
})

const openAIChunks = (path: string): Array<ChatCompletionChunk> => {
  const text = readFileSync(new URL(`../../../../shared/fixtures/${path}`, import.meta.url), "utf8")
  if (path.endsWith(".chunks.txt")) return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
  const parser = new SseParser()
  return parser
    .push(new TextEncoder().encode(text))
    .filter((event) => event.data !== "[DONE]")
    .map((event) => JSON.parse(event.data))
}

describe("AnthropicStreamEncoder on OpenAI recordings", () => {
  it.effect("OpenAI tool call stream", () =>
    Effect.gen(function* () {
      const message = yield* finalMessage(toSseText(encode(openAIChunks("openai/chat-completions/tool-call-stream-usage.sse"))))
      expect(message.content).toEqual([{ type: "tool_use", id: "call_ZR5UUuTt3pf61kjwAJIYdVMj", name: "get_capital", input: { country: "UK" } }])
      expect(message.stop_reason).toBe("tool_use")
      expect(usageCounts(message.usage)).toEqual({ input_tokens: 53, output_tokens: 15, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 })
    })
  )

  it.effect("OpenAI text stream", () =>
    Effect.gen(function* () {
      const chunks = openAIChunks("openai/chat-completions/text-stream-usage.sse")
      const expectedText = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
      const message = yield* finalMessage(toSseText(encode(chunks)))
      expect(message.content).toEqual([{ type: "text", text: expectedText }])
      expect(message.stop_reason).toBe("end_turn")
      expect(message.usage.input_tokens).toBe(78)
      expect(message.usage.output_tokens).toBe(9)
    })
  )

  it.effect("Mistral call without index", () =>
    Effect.gen(function* () {
      const message = yield* finalMessage(toSseText(encode(openAIChunks("openai-compatible/chat-completions/mistral-tool-call-stream.chunks.txt"))))
      expect(message.content).toEqual([{ type: "tool_use", id: "gSIMJiOkT", name: "weather", input: { location: "San Francisco" } }])
      expect(message.usage.input_tokens).toBe(124)
      expect(message.usage.output_tokens).toBe(22)
    })
  )

  it.effect("Groq whole call", () =>
    Effect.gen(function* () {
      const message = yield* finalMessage(toSseText(encode(openAIChunks("openai-compatible/chat-completions/groq-tool-call-stream.chunks.txt"))))
      expect(message.content).toEqual([{ type: "tool_use", id: "tk85n1k4m", name: "weather", input: {} }])
      expect(message.stop_reason).toBe("tool_use")
      expect(message.usage.input_tokens).toBe(210)
    })
  )
})

const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): ChatCompletionChunk =>
  ({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-x",
    choices: [{ index: 0, delta, finish_reason: finishReason }]
  }) as ChatCompletionChunk

describe("AnthropicStreamEncoder", () => {
  it("event order for text", () => {
    const events = encode([chunk({ role: "assistant", content: "" }), chunk({ content: "Hi" }), chunk({}, "stop")])
    expect(events.map((event) => event.event)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop"
    ])
    for (const event of events) expect(JSON.parse(event.data)).toEqual(event.json)
    expect((events[4]!.json as any).delta).toEqual({ stop_reason: "end_turn", stop_sequence: null })
    expect((events[4]!.json as any).usage).toEqual({ output_tokens: 0 })
  })

  it("switching kinds opens new blocks", () => {
    const events = encode([
      chunk({ reasoning_content: "think" }),
      chunk({ content: "text" }),
      chunk({ tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: "c2", type: "function", function: { name: "g", arguments: "{}" } }] }),
      chunk({}, "tool_calls")
    ])
    const starts = events.filter((event) => event.event === "content_block_start").map((event) => (event.json as any).content_block.type)
    expect(starts).toEqual(["thinking", "text", "tool_use", "tool_use"])
    const indexes = events.filter((event) => event.event === "content_block_start").map((event) => (event.json as any).index)
    expect(indexes).toEqual([0, 1, 2, 3])
    expect(events.filter((event) => event.event === "content_block_stop")).toHaveLength(4)
  })

  it("signed thinking adds signature", () => {
    const events = encode([
      chunk({ reasoning_content: "abc" }),
      chunk({ thinking_blocks: [{ type: "thinking", thinking: "abc", signature: "sig" }] }),
      chunk({ thinking_blocks: [{ type: "redacted_thinking", data: "opaque" }] }),
      chunk({ content: "done" }, "stop")
    ])
    const payloads = events.map((event) => event.json as any)
    expect(payloads.filter((payload) => payload.delta?.type === "signature_delta")).toEqual([
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig" } }
    ])
    expect(payloads.find((payload) => payload.content_block?.type === "redacted_thinking").content_block).toEqual({
      type: "redacted_thinking",
      data: "opaque"
    })
  })

  it("tool call signature in id", () => {
    const signature = { extra_content: { google: { thought_signature: "EqUC+/9=" } } }
    const events = encode([
      chunk({ tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: "{}" }, ...signature }] }),
      chunk({ tool_calls: [{ index: 1, id: "c2", type: "function", function: { name: "g", arguments: "{}" } }] }),
      chunk({}, "tool_calls")
    ])
    const ids = events.filter((event) => event.event === "content_block_start").map((event) => (event.json as any).content_block.id)
    expect(ids).toEqual(["c1__thought_signature__RXFVQysvOT0", "c2"])
  })

  it("interleaved tool arguments rejected", () => {
    const encoder = new AnthropicStreamEncoder({ provider: "upstream-test" })
    encoder.push(chunk({ tool_calls: [{ index: 0, id: "c1", function: { name: "f", arguments: "{" } }] }))
    encoder.push(chunk({ tool_calls: [{ index: 1, id: "c2", function: { name: "g", arguments: "{" } }] }))
    expect(() => encoder.push(chunk({ tool_calls: [{ index: 0, function: { arguments: "}" } }] }))).toThrow(UpstreamProtocolError)
  })

  it("finish without chunks", () => {
    const encoder = new AnthropicStreamEncoder({ provider: "upstream-test", model: "gpt-x" })
    const events = encoder.finish()
    expect(events.map((event) => event.event)).toEqual(["message_start", "message_delta", "message_stop"])
    expect((events[0]!.json as any).message.model).toBe("gpt-x")
    expect(encoder.finish()).toEqual([])
  })

  it("message_start id starts with msg_", () => {
    const events = encode([chunk({ content: "Hi" }, "stop")])
    expect((events[0]!.json as any).message.id).toBe("msg_1")
  })

  it("message_start carries reported input", () => {
    const encoder = new AnthropicStreamEncoder({ provider: "upstream-test" })
    const reported = { promptTokens: 1200, completionTokens: 3, cachedInputTokens: 1000, cacheWriteTokens: 0, reasoningTokens: 0 }
    const [start] = encoder.push(chunk({ content: "Hi" }), reported)
    expect((start!.json as any).message.usage).toEqual({
      input_tokens: 200,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1000,
      output_tokens: 0
    })
  })

  it("message_start zeros without usage", () => {
    const [start] = encode([chunk({ content: "Hi" }, "stop")])
    expect((start!.json as any).message.usage).toEqual({ input_tokens: 0, output_tokens: 0 })
  })

  it.effect("error event raises in Anthropic client", () =>
    Effect.gen(function* () {
      const encoder = new AnthropicStreamEncoder({ provider: "upstream-test" })
      const events = [
        ...encoder.push(chunk({ content: "Partial" })),
        AnthropicStreamEncoder.errorEvent({ type: "overloaded_error", message: "Overloaded" })
      ]
      const failure = yield* Effect.promise(() =>
        clientServing(toSseText(events))
          .messages.stream({ model: "claude", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] })
          .finalMessage()
          .then(
            () => undefined,
            (error: unknown) => error
          )
      )
      expect(failure).toBeInstanceOf(Anthropic.APIError)
      expect(String((failure as Error).message)).toContain("Overloaded")
    })
  )
})
