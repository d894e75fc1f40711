import { describe, expect, it } from "@effect/vitest"
import { UpstreamHttpError, UpstreamProtocolError, UpstreamUnreachableError, type ChatRequest, type Usage } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import OpenAI from "openai"
import {
  assembleChat,
  collectEvents,
  makeContext,
  makeFakeTransport,
  streamFixtureBytes,
  toSseText,
  writePatterns,
  type FakeReply
} from "../test/support.js"
import { makeAnthropicAdapter } from "./AnthropicAdapter.js"

const apiKey = "sk-ant-test-secret-key-0123456789"

const adapterFor = (...replies: Array<FakeReply>) => {
  const transport = makeFakeTransport(...replies)
  const adapter = makeAnthropicAdapter(
    {
      provider: "anthropic-test",
      baseUrl: "https://anthropic.invalid/v1",
      apiKey: Redacted.make(apiKey),
      version: "2023-06-01",
      defaultMaxTokens: 4096
    },
    transport
  )
  return { adapter, transport }
}

const request: ChatRequest = { model: "claude", messages: [{ role: "user", content: "Hi" }], stream: true }

const streamChat = (reply: FakeReply) =>
  Effect.gen(function* () {
    const { adapter, transport } = adapterFor(reply)
    const result = yield* adapter.chatStream(request, makeContext())
    const collected = yield* Effect.promise(() => collectEvents(result.events))
    return { ...collected, transport }
  })

/** Starts a stream that must fail before it returns, and returns the error with the transport. */
const startFailure = (reply: FakeReply) =>
  Effect.gen(function* () {
    const { adapter, transport } = adapterFor(reply)
    const error = yield* Effect.flip(adapter.chatStream(request, makeContext()))
    return { error, transport }
  })

interface Expected {
  readonly content: string | null
  readonly reasoning?: string
  readonly toolCalls?: ReadonlyArray<{ readonly id: string; readonly name: string; readonly arguments: string }>
  readonly finishReason: string
  readonly usage: Usage
  readonly id: string
  readonly model: string
}

const usage = (prompt: number, completion: number, cached = 0, cacheWrite = 0): Usage => ({
  promptTokens: prompt,
  completionTokens: completion,
  cachedInputTokens: cached,
  cacheWriteTokens: cacheWrite,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0
})

// Expected values are read off each recording by hand.
const recordings: ReadonlyArray<{ readonly fixture: string; readonly expected: Expected }> = [
  {
    fixture: "text-stream.chunks.txt",
    expected: {
      content: "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
      finishReason: "stop",
      usage: usage(12, 30),
      id: "msg_01QC4g3HwBThD4BaNtBckFDJ",
      model: "claude-sonnet-4-5-20250929"
    }
  },
  {
    fixture: "tool-use-stream.sse",
    expected: {
      content: "I'll check the current weather in Paris for you.",
      toolCalls: [{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", arguments: '{"location": "Paris"}' }],
      finishReason: "tool_calls",
      usage: usage(377, 65),
      id: "msg_019Q1hrJbZG26Fb9BQhrkHEr",
      model: "claude-sonnet-4-20250514"
    }
  },
  {
    fixture: "tool-use-no-args-stream.chunks.txt",
    expected: {
      content: "I'll update the issue list for you.",
      toolCalls: [{ id: "toolu_01QE1WLsSVp5hy5Q3GmGTmjP", name: "updateIssueList", arguments: "{}" }],
      finishReason: "tool_calls",
      usage: usage(565, 48),
      id: "msg_01GE2RKp1VYsPzdFs3sS9z5S",
      model: "claude-sonnet-4-5-20250929"
    }
  },
  {
    fixture: "thinking-stream.chunks.txt",
    expected: {
      content: "925 ÷ 5 = 185",
      reasoning: "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185",
      finishReason: "stop",
      usage: usage(69, 53),
      id: "msg_01Y6V41gqPaKWEw7iPouH7iW",
      model: "claude-sonnet-4-5-20250929"
    }
  },
  {
    fixture: "cache-read-stream.sse",
    expected: {
      content: null,
      finishReason: "length",
      usage: usage(11 + 1031, 100, 1031, 0),
      id: "msg_01RprQMTVaxMt5KCveLCRfwJ",
      model: "claude-sonnet-4-20250514"
    }
  }
]

describe("chatStream on recorded streams", () => {
  for (const { fixture, expected } of recordings) {
    for (const { name, pattern } of writePatterns) {
      it.effect(`${fixture}, ${name}`, () =>
        Effect.gen(function* () {
          const { events, error, transport } = yield* streamChat({
            body: streamFixtureBytes(fixture),
            pattern,
            headers: { "content-type": "text/event-stream" }
          })
          expect(error).toBeUndefined()
          const { completion, reasoning } = assembleChat(events)
          const choice = completion.choices[0]!

          if (expected.content !== null) expect(choice.message.content).toBe(expected.content)
          else expect(choice.message.content).toMatch(/^A \*\*system\*\* is an organized collection/)
          expect(reasoning).toBe(expected.reasoning ?? "")
          const calls = (choice.message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }))
          expect(calls).toEqual(expected.toolCalls ?? [])
          expect(choice.finish_reason).toBe(expected.finishReason)
          expect(completion.id).toBe(expected.id)
          expect(completion.model).toBe(expected.model)

          const lastUsage = events.filter((event) => event.usage !== undefined).at(-1)?.usage
          expect(lastUsage).toEqual(expected.usage)
          expect(transport.discarded()).toBe(0)
        })
      )
    }
  }

  it.effect("event sequence of text stream", () =>
    Effect.gen(function* () {
      const { events } = yield* streamChat({ body: streamFixtureBytes("text-stream.chunks.txt") })
      const first = events[0]!.json as any
      expect(first.choices[0].delta).toEqual({ role: "assistant", content: "" })
      expect(first.object).toBe("chat.completion.chunk")
      expect(events.every((event) => event.event === undefined)).toBe(true)

      const usageChunk = events.at(-2)!
      expect(usageChunk.usageOnly).toBe(true)
      expect((usageChunk.json as any).choices).toEqual([])
      expect((usageChunk.json as any).usage).toEqual({
        prompt_tokens: 12,
        completion_tokens: 30,
        total_tokens: 42,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 }
      })
      expect(events.at(-1)).toEqual({ data: "[DONE]", done: true })

      const finishChunks = events.filter((event) => (event.json as any)?.choices?.[0]?.finish_reason)
      expect(finishChunks).toHaveLength(1)
      for (const event of events.slice(0, -1)) expect(JSON.parse(event.data)).toEqual(event.json)
    })
  )

  it.effect("tool call deltas use tool index", () =>
    Effect.gen(function* () {
      const { events } = yield* streamChat({ body: streamFixtureBytes("tool-use-stream.sse") })
      const toolDeltas = events.flatMap((event) => (event.json as any)?.choices?.[0]?.delta?.tool_calls ?? [])
      // The tool_use is Anthropic block 1 but the first tool call, so its index is 0.
      expect(toolDeltas[0]).toEqual({
        index: 0,
        id: "toolu_01NRLabsLyVHZPKxbKvkfSMn",
        type: "function",
        function: { name: "get_weather", arguments: "" }
      })
      expect(toolDeltas.slice(1).map((delta: any) => delta.index)).toEqual([0, 0, 0, 0])
      expect(toolDeltas.slice(1).map((delta: any) => delta.function.arguments)).toEqual(['{"locati', 'on": "P', "ar", 'is"}'])
    })
  )

  it.effect("thinking signature kept in thinking_blocks", () =>
    Effect.gen(function* () {
      const { events } = yield* streamChat({ body: streamFixtureBytes("thinking-stream.chunks.txt"), pattern: { kind: "slices", bytes: 1 } })
      const { thinkingBlocks, reasoning } = assembleChat(events)
      expect(thinkingBlocks).toHaveLength(1)
      const block = thinkingBlocks[0] as any
      expect(block.type).toBe("thinking")
      expect(block.thinking).toBe(reasoning)
      expect(block.signature).toMatch(/^EvQBCkYICxgCKkAxhD4N/)
      expect(block.signature).toMatch(/EhT6Ca17BgB$/)
    })
  )

  it.effect("stream without message_stop fails", () =>
    Effect.gen(function* () {
      // The recording lost the blank line after message_stop, so an SSE parser drops that event.
      const { events, error } = yield* streamChat({ body: streamFixtureBytes("tool-use-stream.sse", { terminate: false }) })
      expect(error).toBeInstanceOf(UpstreamUnreachableError)
      expect((error as UpstreamUnreachableError).reason).toMatch(/ended before completion/)
      expect(events.some((event) => event.done)).toBe(false)
      expect(events.some((event) => event.usageOnly)).toBe(false)
    })
  )

  it.effect("connection cut mid-stream fails", () =>
    Effect.gen(function* () {
      const body = streamFixtureBytes("text-stream.chunks.txt").slice(0, 700)
      const { error } = yield* streamChat({ body, pattern: { kind: "slices", bytes: 100 } })
      expect(error).toBeInstanceOf(UpstreamUnreachableError)
    })
  )

  it.effect("transport failure passes through", () =>
    Effect.gen(function* () {
      const broken = new UpstreamUnreachableError({ provider: "anthropic-test", reason: "the connection closed before the response completed" })
      const { error } = yield* startFailure({ body: streamFixtureBytes("text-stream.chunks.txt").slice(0, 400), failAfterWrites: broken })
      expect(error).toBe(broken)
    })
  )

  it.effect("transport failure after message_start", () =>
    Effect.gen(function* () {
      const broken = new UpstreamUnreachableError({ provider: "anthropic-test", reason: "the connection closed before the response completed" })
      const { events, error } = yield* streamChat({ body: streamFixtureBytes("text-stream.chunks.txt").slice(0, 600), failAfterWrites: broken })
      expect(events.length).toBeGreaterThan(0)
      expect(error).toBe(broken)
    })
  )

  it.effect("stopping early releases the connection", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor({ body: streamFixtureBytes("text-stream.chunks.txt") })
      const result = yield* adapter.chatStream(request, makeContext())
      const received = yield* Effect.promise(async () => {
        let count = 0
        for await (const _event of result.events) if (++count === 2) break
        return count
      })
      expect(received).toBe(2)
      expect(transport.discarded()).toBe(1)
    })
  )

  it.effect("invalid JSON event is a protocol error", () =>
    Effect.gen(function* () {
      const { error, transport } = yield* startFailure({ body: "event: message_start\ndata: {not json\n\n" })
      expect(error).toBeInstanceOf(UpstreamProtocolError)
      expect(transport.discarded()).toBe(1)
    })
  )
})

// No licensed recording of a mid-stream `event: error` exists, so this body is
// written by hand in the shape of Anthropic's documented error events.
const overloadedMidStream = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Partial"}}\n\n',
  'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
].join("")

describe("chatStream error event", () => {
  it.effect("yields OpenAI error then fails", () =>
    Effect.gen(function* () {
      const { events, error, transport } = yield* streamChat({ body: overloadedMidStream })
      const last = events.at(-1)!
      expect(JSON.parse(last.data)).toEqual({ error: { message: "Overloaded", type: "overloaded_error", param: null, code: null } })
      expect(last.event).toBeUndefined()

      expect(error).toBeInstanceOf(UpstreamHttpError)
      const httpError = error as UpstreamHttpError
      expect(httpError.status).toBe(529)
      expect(httpError.error.type).toBe("overloaded_error")
      expect(httpError.error.message).toBe("Overloaded")
      expect(httpError.streamEvent).toBe(true)
      expect(JSON.stringify(httpError)).not.toContain(apiKey)
      expect(transport.discarded()).toBe(1)
    })
  )

  it.effect("error before message_start fails call", () =>
    Effect.gen(function* () {
      const body = 'event: ping\ndata: {"type":"ping"}\n\nevent: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}\n\n'
      const { error, transport } = yield* startFailure({ body, headers: { "request-id": "req_first_event" } })
      expect(error).toBeInstanceOf(UpstreamHttpError)
      const httpError = error as UpstreamHttpError
      expect(httpError.status).toBe(429)
      expect(httpError.error.type).toBe("rate_limit_error")
      expect(httpError.headers["x-fluxen-upstream-request-id"]).toBe("req_first_event")
      expect(transport.discarded()).toBe(1)
    })
  )

  it.effect("call returns after message_start", () =>
    Effect.gen(function* () {
      // The body breaks right after message_start, so a call that read further would fail.
      const broken = new UpstreamUnreachableError({ provider: "anthropic-test", reason: "the connection closed before the response completed" })
      const messageStart = overloadedMidStream.split("\n\n")[0] + "\n\n"
      const { adapter } = adapterFor({ body: messageStart, failAfterWrites: broken })
      const result = yield* adapter.chatStream(request, makeContext())
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
      expect(events.map((event) => (event.json as { choices: Array<{ delta: unknown }> }).choices[0]!.delta)).toEqual([{ role: "assistant", content: "" }])
      expect(error).toBe(broken)
    })
  )

  it.effect("openai client raises on it", () =>
    Effect.gen(function* () {
      const { events } = yield* streamChat({ body: overloadedMidStream })
      const client = clientServing(toSseText(events))
      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "Hi" }], stream: true }))
      const received: Array<string> = []
      const failure = yield* Effect.promise(async () => {
        try {
          for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "")
          return undefined
        } catch (error) {
          return error
        }
      })
      expect(received.join("")).toBe("Partial")
      expect(failure).toBeInstanceOf(OpenAI.APIError)
      expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain("Overloaded")
    })
  )
})

/** An OpenAI client whose `fetch` returns this SSE body for every request, so no server is involved. */
const clientServing = (sse: string) =>
  new OpenAI({
    apiKey: "test",
    baseURL: "http://127.0.0.1:9/v1",
    maxRetries: 0,
    fetch: async () => new Response(sse, { status: 200, headers: { "content-type": "text/event-stream" } })
  })

describe("chatStream through the openai client", () => {
  it.effect("tool call stream assembles", () =>
    Effect.gen(function* () {
      const { events } = yield* streamChat({ body: streamFixtureBytes("tool-use-stream.sse") })
      const client = clientServing(toSseText(events))
      const runner = client.chat.completions.stream({ model: "claude", messages: [{ role: "user", content: "Weather?" }], stream_options: { include_usage: true } })
      const completion = yield* Effect.promise(() => runner.finalChatCompletion())
      const message = completion.choices[0]!.message
      expect(message.content).toBe("I'll check the current weather in Paris for you.")
      expect(message.tool_calls?.[0]).toMatchObject({ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", function: { name: "get_weather", arguments: '{"location": "Paris"}' } })
      expect(completion.choices[0]!.finish_reason).toBe("tool_calls")
      expect(completion.usage).toMatchObject({ prompt_tokens: 377, completion_tokens: 65, total_tokens: 442 })
    })
  )
})
