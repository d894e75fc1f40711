import {
  attachCancelNotice,
  ChatStreamAssembler,
  type CallContext,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type ProviderAdapter,
  type StreamEvent,
  type Usage
} from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  describePattern,
  fakeTransport,
  fixtureReply,
  framedChunks,
  jsonReply,
  writePatterns,
  type FakeReply,
  type FakeTransport
} from "../test/fixtures.js"
import { makeGeminiAdapter } from "./GeminiAdapter.js"

const API_KEY = "test-gemini-key-0123456789"
const BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
const encoder = new TextEncoder()

const context = (upstreamModel = "gemini-2.5-flash"): CallContext => ({
  requestId: "req-1",
  upstreamModel,
  signal: new AbortController().signal,
  idleTimeoutMs: 5_000,
  clientHeaders: { get: () => undefined }
})

const adapterFor = (transport: FakeTransport): ProviderAdapter =>
  makeGeminiAdapter({ provider: "gemini", baseUrl: BASE_URL, apiKey: Redacted.make(API_KEY) }, transport.service)

const chatRequest = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "gemini",
  messages: [{ role: "user", content: "Hello" }],
  ...overrides
})

interface StreamOutcome {
  readonly events: Array<StreamEvent>
  readonly chunks: Array<ChatCompletionChunk>
  readonly completion: ChatCompletion
  readonly lastUsage: Usage | undefined
}

const runStream = async (adapter: ProviderAdapter, request: ChatRequest = chatRequest()): Promise<StreamOutcome> => {
  const result = await Effect.runPromise(adapter.chatStream(request, context()))
  const assembler = new ChatStreamAssembler()
  const events: Array<StreamEvent> = []
  const chunks: Array<ChatCompletionChunk> = []
  let lastUsage: Usage | undefined
  for await (const event of result.events) {
    events.push(event)
    if (event.usage !== undefined) lastUsage = event.usage
    if (event.done === true) continue
    const chunk = event.json as ChatCompletionChunk
    expect(JSON.parse(event.data)).toEqual(chunk)
    chunks.push(chunk)
    assembler.add(chunk)
  }
  return { events, chunks, completion: assembler.toCompletion(), lastUsage }
}

const failureOf = <E>(effect: Effect.Effect<unknown, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

const sentBody = (transport: FakeTransport, index = 0): any => JSON.parse(String(transport.requests[index]!.body))

const fixtureLines = (path: string): Array<string> =>
  readFileSync(new URL(`../../../../shared/fixtures/gemini/${path}`, import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line !== "")

const usage = (promptTokens: number, completionTokens: number, reasoningTokens: number, cachedInputTokens = 0): Usage => ({
  promptTokens,
  completionTokens,
  cachedInputTokens,
  cacheWriteTokens: 0,
  reasoningTokens
})

const TOOL_CALL_SIGNATURE = JSON.parse(fixtureLines("stream-generate-content/tool-call-stream.chunks.txt")[0]!).candidates[0].content.parts[0]
  .thoughtSignature as string
const TEXT_SIGNATURE = JSON.parse(fixtureLines("stream-generate-content/thinking-signature-stream.chunks.txt")[2]!).candidates[0].content.parts[0]
  .thoughtSignature as string

// ---------------------------------------------------------------------------
// Recorded streams
// ---------------------------------------------------------------------------

interface StreamCase {
  readonly fixture: string
  readonly content: string | null
  readonly finishReason: string
  readonly usage: Usage
  readonly toolCalls: ReadonlyArray<{ readonly name: string; readonly arguments: unknown }>
}

const streamCases: ReadonlyArray<StreamCase> = [
  {
    fixture: "stream-generate-content/text-stream.sse",
    content: "The capital of France is Paris.\n",
    finishReason: "stop",
    // promptTokenCount is 15 in the early events and 13 in the last: the last wins.
    usage: usage(13, 8, 0),
    toolCalls: []
  },
  {
    fixture: "stream-generate-content/cumulative-usage-stream.sse",
    content: Array.from({ length: 30 }, (_, index) => String(index + 1)).join("\n"),
    finishReason: "stop",
    usage: usage(18, 80 + 35, 35),
    toolCalls: []
  },
  {
    fixture: "stream-generate-content/thinking-signature-stream.chunks.txt",
    content: 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y',
    finishReason: "stop",
    usage: usage(9, 23 + 185, 185),
    toolCalls: []
  },
  {
    fixture: "stream-generate-content/tool-call-stream.chunks.txt",
    content: null,
    finishReason: "tool_calls",
    usage: usage(29, 15 + 45, 45),
    toolCalls: [{ name: "weather", arguments: { location: "San Francisco" } }]
  }
]

describe("recorded streams", () => {
  for (const streamCase of streamCases) {
    for (const pattern of writePatterns) {
      it(`${streamCase.fixture} in ${describePattern(pattern)}`, async () => {
        const transport = fakeTransport(fixtureReply(streamCase.fixture, pattern))
        const { events, chunks, completion, lastUsage } = await runStream(adapterFor(transport))

        const choice = completion.choices[0]!
        expect(completion.choices).toHaveLength(1)
        expect(choice.message.content).toBe(streamCase.content)
        expect(choice.finish_reason).toBe(streamCase.finishReason)
        const toolCalls = (choice.message.tool_calls ?? []).map((call) => ({
          name: call.function.name,
          arguments: JSON.parse(call.function.arguments)
        }))
        expect(toolCalls).toEqual(streamCase.toolCalls)
        expect(lastUsage).toEqual(streamCase.usage)

        expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant")
        const finishChunks = chunks.filter((chunk) => chunk.choices.some((c) => c.finish_reason !== null))
        expect(finishChunks).toHaveLength(1)

        const usageEvent = events.at(-2)!
        expect(usageEvent.usageOnly).toBe(true)
        expect((usageEvent.json as ChatCompletionChunk).choices).toEqual([])
        expect((usageEvent.json as ChatCompletionChunk).usage).toEqual({
          prompt_tokens: streamCase.usage.promptTokens,
          completion_tokens: streamCase.usage.completionTokens,
          total_tokens: streamCase.usage.promptTokens + streamCase.usage.completionTokens,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: streamCase.usage.reasoningTokens }
        })
        expect(events.at(-1)).toEqual({ data: "[DONE]", done: true })
        expect(transport.discarded()).toBe(0)
      })
    }
  }

  it("tool call stream keeps fixture ids", async () => {
    const transport = fakeTransport(fixtureReply("stream-generate-content/tool-call-stream.chunks.txt"))
    const { chunks, completion } = await runStream(adapterFor(transport))

    const call = completion.choices[0]!.message.tool_calls![0]!
    expect(call.id).toMatch(/^call_0_[0-9a-f]{12}$/)
    expect(call.type).toBe("function")
    const toolDeltas = chunks.flatMap((chunk) => chunk.choices.flatMap((c) => c.delta.tool_calls ?? []))
    expect(toolDeltas).toHaveLength(1)
    expect(toolDeltas[0]!.index).toBe(0)
    expect(chunks[0]!.id).toBe("chatcmpl-b36LacjwM668nsEP2tbsgQQ")
    expect(chunks[0]!.model).toBe("gemini-3-pro-preview")
  })

  it("multi-byte text split anywhere", async () => {
    const pieces = ["Hello 👋, ", "7 ÷ 2 isn’t whole", " — 🌍"]
    const lines = pieces.map((text, index) =>
      JSON.stringify({
        candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0, ...(index === pieces.length - 1 ? { finishReason: "STOP" } : {}) }],
        usageMetadata: { promptTokenCount: 4, candidatesTokenCount: index + 1 }
      })
    )
    const body = encoder.encode(framedChunks(lines))
    for (const pattern of writePatterns) {
      const transport = fakeTransport({ status: 200, headers: { "content-type": "text/event-stream" }, body, writes: pattern })
      const { completion, lastUsage } = await runStream(adapterFor(transport))
      expect(completion.choices[0]!.message.content, describePattern(pattern)).toBe(pieces.join(""))
      expect(lastUsage, describePattern(pattern)).toEqual(usage(4, 3, 0))
    }
  })

  it("stream without finish reason fails", async () => {
    const lines = readFileSync(new URL("../../../../shared/fixtures/gemini/stream-generate-content/text-stream.sse", import.meta.url), "utf8")
      .split("\r\n\r\n")
      .slice(0, 2)
    const body = encoder.encode(lines.map((event) => `${event}\r\n\r\n`).join(""))
    const transport = fakeTransport({ status: 200, headers: { "content-type": "text/event-stream" }, body, writes: "per-event" })

    const error = await runStream(adapterFor(transport)).then(
      () => undefined,
      (cause: unknown) => cause
    )
    expect(error).toMatchObject({ _tag: "UpstreamUnreachableError", provider: "gemini" })
    expect((error as Error).message).toContain("ended before completion")
  })

  it("empty stream body fails the request", async () => {
    const transport = fakeTransport({ status: 200, headers: { "content-type": "text/event-stream" }, body: new Uint8Array(0) })
    const error = await failureOf(adapterFor(transport).chatStream(chatRequest(), context()))
    expect(error._tag).toBe("UpstreamUnreachableError")
  })

  it("stopping early discards the upstream", async () => {
    const transport = fakeTransport(fixtureReply("stream-generate-content/cumulative-usage-stream.sse", "per-event"))
    const result = await Effect.runPromise(adapterFor(transport).chatStream(chatRequest(), context()))
    for await (const event of result.events) {
      expect(event.json).toBeDefined()
      break
    }
    expect(transport.discarded()).toBe(1)
  })

  it("error event mid-stream", async () => {
    const first = fixtureLines("stream-generate-content/tool-call-stream.chunks.txt")[0]!
    const errorEvent = JSON.stringify({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } })
    const transport = fakeTransport({
      status: 200,
      headers: { "content-type": "text/event-stream" },
      body: encoder.encode(framedChunks([first, errorEvent]))
    })
    const error = await runStream(adapterFor(transport)).then(
      () => undefined,
      (cause: unknown) => cause
    )
    expect(error).toMatchObject({
      _tag: "UpstreamHttpError",
      status: 503,
      error: { message: "The model is overloaded.", type: "UNAVAILABLE" }
    })
  })

  it("invalid JSON event", async () => {
    const transport = fakeTransport({
      status: 200,
      headers: { "content-type": "text/event-stream" },
      body: encoder.encode("data: {not json\r\n\r\n")
    })
    const error = await failureOf(adapterFor(transport).chatStream(chatRequest(), context()))
    expect(error._tag).toBe("UpstreamProtocolError")
  })
})

// ---------------------------------------------------------------------------
// Recorded JSON responses
// ---------------------------------------------------------------------------

describe("recorded responses", () => {
  it("vertex-text.json", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/vertex-text.json"))
    const result = await Effect.runPromise(adapterFor(transport).chat(chatRequest(), context()))
    const body = result.body as ChatCompletion

    expect(result.status).toBe(200)
    expect(result.usage).toEqual(usage(8, 433 + 1477, 1477))
    expect(body.id).toBe("chatcmpl-hizpaKmcH9qs698P85HHgAU")
    expect(body.created).toBe(Math.floor(Date.parse("2025-10-10T15:55:50.511Z") / 1000))
    expect(body.model).toBe("gemini-2.5-flash")
    expect(body.choices).toHaveLength(1)
    expect(body.choices[0]!.index).toBe(0)
    expect(body.choices[0]!.finish_reason).toBe("stop")
    expect(body.choices[0]!.message.content).toMatch(/^In systems vast, where services reside,\n/)
    expect(body.choices[0]!.message.content).toMatch(/That turns confusion into clear display\.$/)
    expect(body.usage).toEqual({
      prompt_tokens: 8,
      completion_tokens: 1910,
      total_tokens: 1918,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 1477 }
    })
  })

  it("max-tokens.json", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    const result = await Effect.runPromise(adapterFor(transport).chat(chatRequest({ max_tokens: 5 }), context()))
    const body = result.body as ChatCompletion

    expect(body.choices[0]!.finish_reason).toBe("length")
    expect(body.choices[0]!.message.content).toBe("The capital of France is")
    expect(result.usage).toEqual(usage(15, 5, 0))
    expect(sentBody(transport).generationConfig).toEqual({ maxOutputTokens: 5 })
  })

  it("response without candidates", async () => {
    const transport = fakeTransport(jsonReply(200, { usageMetadata: { promptTokenCount: 3 } }))
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error._tag).toBe("UpstreamProtocolError")
  })

  it("non-JSON success body", async () => {
    const transport = fakeTransport({ status: 200, body: encoder.encode("<html>ok</html>") })
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "UpstreamProtocolError" })
    expect(error.message).not.toContain("<html>")
  })
})

describe("cancellation", () => {
  it("host context: notice passed, signal unread", async () => {
    const transport = fakeTransport(jsonReply(200, { usageMetadata: { promptTokenCount: 3 } }))
    const notice = { cancelled: () => false, watch: () => () => {} }
    const base = context()
    let signalReads = 0
    const hostContext = attachCancelNotice(
      {
        ...base,
        get signal() {
          signalReads++
          return base.signal
        }
      },
      notice
    )
    await failureOf(adapterFor(transport).chat(chatRequest(), hostContext))

    expect(transport.requests[0]!.cancel).toBe(notice)
    expect(signalReads).toBe(0)
  })
})

describe("translated responses", () => {
  it("thoughts and several candidates", async () => {
    const transport = fakeTransport(
      jsonReply(200, {
        candidates: [
          {
            content: { role: "model", parts: [{ text: "Weighing options.", thought: true }, { text: "Paris" }, { text: "." }] },
            finishReason: "STOP",
            index: 0
          },
          { content: { role: "model", parts: [] }, finishReason: "SAFETY", index: 1 }
        ],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 3, thoughtsTokenCount: 12, cachedContentTokenCount: 4 },
        responseId: "abc"
      })
    )
    const result = await Effect.runPromise(adapterFor(transport).chat(chatRequest({ n: 2 }), context()))
    const body = result.body as ChatCompletion

    expect(body.choices[0]!.message).toEqual({ role: "assistant", content: "Paris.", reasoning_content: "Weighing options." })
    expect(body.choices[0]!.finish_reason).toBe("stop")
    expect(body.choices[1]!.index).toBe(1)
    expect(body.choices[1]!.finish_reason).toBe("content_filter")
    expect(result.usage).toEqual(usage(10, 15, 12, 4))
    expect(body.usage?.prompt_tokens_details).toEqual({ cached_tokens: 4 })
    expect(sentBody(transport).generationConfig).toEqual({ candidateCount: 2 })
  })

  it("no usage metadata", async () => {
    const transport = fakeTransport(jsonReply(200, { candidates: [{ content: { parts: [{ text: "ok" }] }, finishReason: "STOP" }] }))
    const result = await Effect.runPromise(adapterFor(transport).chat(chatRequest(), context()))

    expect(result.usage).toBeUndefined()
    expect((result.body as ChatCompletion).usage).toBeUndefined()
    expect((result.body as ChatCompletion).model).toBe("gemini-2.5-flash")
  })
})

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

describe("errors", () => {
  it("stream 400 with invalid key", async () => {
    for (const pattern of writePatterns) {
      const transport = fakeTransport(fixtureReply("stream-generate-content/error-400-api-key-invalid.json", pattern))
      const error = await failureOf(adapterFor(transport).chatStream(chatRequest(), context()))

      expect(error, describePattern(pattern)).toMatchObject({
        _tag: "UpstreamHttpError",
        provider: "gemini",
        status: 400,
        error: {
          message: "API key not valid. Please pass a valid API key.",
          type: "INVALID_ARGUMENT",
          param: null,
          code: "API_KEY_INVALID"
        },
        headers: {}
      })
      expect(JSON.stringify(error)).not.toContain(API_KEY)
    }
  })

  it("429 retry-after from RetryInfo", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/error-429-resource-exhausted.json"))
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))

    expect(error).toMatchObject({
      _tag: "UpstreamHttpError",
      status: 429,
      error: { message: "You exceeded your current quota, please check your plan.", type: "RESOURCE_EXHAUSTED", code: null },
      headers: { "retry-after": "35" }
    })
  })

  it("429 keeps upstream retry-after", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/error-429-resource-exhausted.json", "whole", { "retry-after": "10" }))
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", headers: { "retry-after": "10" } })
  })

  it("non-Google error body", async () => {
    const transport = fakeTransport({ status: 502, body: encoder.encode("<html>Bad Gateway</html>") })
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 502 })
    expect(error.message).not.toContain("<html>")
  })

  it("key in an error message is redacted", async () => {
    const transport = fakeTransport(
      jsonReply(400, { error: { code: 400, message: `Key ${API_KEY} is not valid.`, status: "INVALID_ARGUMENT" } })
    )
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", error: { message: "Key [redacted] is not valid." } })
  })

  it("blocked prompt, non-streamed", async () => {
    const transport = fakeTransport(
      jsonReply(200, { promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 7, totalTokenCount: 7 } })
    )
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "InvalidRequestError", code: "content_filter", param: "messages" })
    expect(error.message).toContain("block reason: SAFETY")
  })

  it("blocked prompt, streamed", async () => {
    const event = JSON.stringify({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 7 } })
    const transport = fakeTransport({
      status: 200,
      headers: { "content-type": "text/event-stream" },
      body: encoder.encode(framedChunks([event]))
    })
    const error = await failureOf(adapterFor(transport).chatStream(chatRequest(), context()))
    expect(error).toMatchObject({ _tag: "InvalidRequestError", code: "content_filter" })
    expect(error.message).toContain("block reason: PROHIBITED_CONTENT")
    expect(transport.discarded()).toBe(1)
  })

  it("invalid request sends nothing", async () => {
    const transport = fakeTransport([])
    const error = await failureOf(adapterFor(transport).chat(chatRequest({ reasoning_effort: "extreme" }), context()))
    expect(error).toMatchObject({ _tag: "InvalidRequestError", param: "reasoning_effort" })
    expect(transport.requests).toHaveLength(0)
  })
})

// ---------------------------------------------------------------------------
// Upstream requests
// ---------------------------------------------------------------------------

describe("upstream requests", () => {
  it("chat URL, headers and body", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    await Effect.runPromise(
      adapterFor(transport).chat(chatRequest({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] }), context())
    )
    const request = transport.requests[0]!

    expect(request.method).toBe("POST")
    expect(request.url).toBe(`${BASE_URL}/models/gemini-2.5-flash:generateContent`)
    expect(request.url).not.toContain(API_KEY)
    expect(request.headers["x-goog-api-key"]).toBe(API_KEY)
    expect(request.headers["content-type"]).toBe("application/json")
    expect(request.idleTimeoutMs).toBe(5_000)
    expect(sentBody(transport)).toEqual({
      contents: [{ role: "user", parts: [{ text: "Hi" }] }],
      systemInstruction: { parts: [{ text: "Be brief." }] }
    })
  })

  it("stream URL and accept header", async () => {
    const transport = fakeTransport(fixtureReply("stream-generate-content/text-stream.sse"))
    await runStream(adapterFor(transport))
    const request = transport.requests[0]!

    expect(request.url).toBe(`${BASE_URL}/models/gemini-2.5-flash:streamGenerateContent?alt=sse`)
    expect(request.headers.accept).toBe("text/event-stream")
    expect(request.headers["x-goog-api-key"]).toBe(API_KEY)
  })

  it("tuned model path kept", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    await Effect.runPromise(adapterFor(transport).chat(chatRequest(), context("tunedModels/my-model-7")))
    expect(transport.requests[0]!.url).toBe(`${BASE_URL}/tunedModels/my-model-7:generateContent`)
  })

  it("invalid model name", async () => {
    const transport = fakeTransport([])
    const error = await failureOf(adapterFor(transport).chat(chatRequest(), context("../files")))
    expect(error).toMatchObject({ _tag: "InvalidRequestError", param: "model" })
    expect(transport.requests).toHaveLength(0)
  })

  it("extra headers cannot replace the key", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    const adapter = makeGeminiAdapter(
      { provider: "gemini", baseUrl: `${BASE_URL}/`, apiKey: Redacted.make(API_KEY), headers: { "x-goog-api-key": "other", "x-extra": "1" } },
      transport.service
    )
    await Effect.runPromise(adapter.chat(chatRequest(), context()))
    expect(transport.requests[0]!.headers["x-goog-api-key"]).toBe(API_KEY)
    expect(transport.requests[0]!.headers["x-extra"]).toBe("1")
    expect(transport.requests[0]!.url).toBe(`${BASE_URL}/models/gemini-2.5-flash:generateContent`)
  })
})

// ---------------------------------------------------------------------------
// Thought signatures
// ---------------------------------------------------------------------------

const signatureOf = (holder: unknown): unknown => (holder as any)?.extra_content?.google?.thought_signature

describe("thought signatures", () => {
  it("tool call signature round trip, streamed", async () => {
    const streamed = await runStream(adapterFor(fakeTransport(fixtureReply("stream-generate-content/tool-call-stream.chunks.txt"))))
    const delta = streamed.chunks.flatMap((chunk) => chunk.choices.flatMap((c) => c.delta.tool_calls ?? []))[0]!
    expect(signatureOf(delta)).toBe(TOOL_CALL_SIGNATURE)

    // The client sends the call back as an OpenAI SDK would store it, extra field included.
    const assistantCall = {
      id: delta.id!,
      type: "function",
      function: { name: delta.function!.name!, arguments: delta.function!.arguments! },
      extra_content: (delta as any).extra_content
    }
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    await Effect.runPromise(
      adapterFor(transport).chat(
        chatRequest({
          messages: [
            { role: "user", content: "Weather in San Francisco?" },
            { role: "assistant", content: null, tool_calls: [assistantCall] },
            { role: "tool", tool_call_id: delta.id!, content: '{"temperature": 18}' }
          ]
        }),
        context()
      )
    )
    expect(sentBody(transport).contents).toEqual([
      { role: "user", parts: [{ text: "Weather in San Francisco?" }] },
      {
        role: "model",
        parts: [{ functionCall: { name: "weather", args: { location: "San Francisco" } }, thoughtSignature: TOOL_CALL_SIGNATURE }]
      },
      { role: "user", parts: [{ functionResponse: { name: "weather", response: { temperature: 18 } } }] }
    ])
  })

  it("tool call signature round trip, non-streamed", async () => {
    const response = JSON.parse(fixtureLines("stream-generate-content/tool-call-stream.chunks.txt")[0]!)
    response.candidates[0].finishReason = "STOP"
    const first = await Effect.runPromise(adapterFor(fakeTransport(jsonReply(200, response))).chat(chatRequest(), context()))
    const choice = (first.body as ChatCompletion).choices[0]!
    expect(choice.finish_reason).toBe("tool_calls")
    expect(choice.message.content).toBeNull()
    const call = choice.message.tool_calls![0]!
    expect(signatureOf(call)).toBe(TOOL_CALL_SIGNATURE)

    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    await Effect.runPromise(
      adapterFor(transport).chat(
        chatRequest({
          messages: [
            { role: "user", content: "Weather?" },
            JSON.parse(JSON.stringify(choice.message)),
            { role: "tool", tool_call_id: call.id, content: "sunny" }
          ]
        }),
        context()
      )
    )
    const parts = sentBody(transport).contents.flatMap((content: any) => content.parts)
    expect(parts[1]).toEqual({ functionCall: { name: "weather", args: { location: "San Francisco" } }, thoughtSignature: TOOL_CALL_SIGNATURE })
    expect(parts[2]).toEqual({ functionResponse: { name: "weather", response: { result: "sunny" } } })
  })

  it("text signature round trip", async () => {
    const streamed = await runStream(adapterFor(fakeTransport(fixtureReply("stream-generate-content/thinking-signature-stream.chunks.txt"))))
    const signed = streamed.chunks.map((chunk) => signatureOf(chunk.choices[0]?.delta)).filter((value) => value !== undefined)
    expect(signed).toEqual([TEXT_SIGNATURE])

    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    await Effect.runPromise(
      adapterFor(transport).chat(
        chatRequest({
          messages: [
            { role: "user", content: "How many r in strawberry?" },
            { role: "assistant", content: streamed.completion.choices[0]!.message.content, extra_content: { google: { thought_signature: TEXT_SIGNATURE } } },
            { role: "user", content: "Thanks" }
          ]
        }),
        context()
      )
    )
    expect(sentBody(transport).contents[1]).toEqual({
      role: "model",
      parts: [{ text: 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y', thoughtSignature: TEXT_SIGNATURE }]
    })
  })
})

// ---------------------------------------------------------------------------
// Embeddings and models
// ---------------------------------------------------------------------------

const embedReply = (count: number, width = 3): FakeReply =>
  jsonReply(200, { embeddings: Array.from({ length: count }, (_, row) => ({ values: Array.from({ length: width }, (_, column) => row + column / 4) })) })

describe("embeddings", () => {
  it("float vectors", async () => {
    const transport = fakeTransport(embedReply(2))
    const result = await Effect.runPromise(
      adapterFor(transport).embeddings({ model: "embed", input: ["a", "b"], dimensions: 3 }, context("gemini-embedding-001"))
    )

    expect(transport.requests[0]!.url).toBe(`${BASE_URL}/models/gemini-embedding-001:batchEmbedContents`)
    expect(sentBody(transport)).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "a" }] }, outputDimensionality: 3 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "b" }] }, outputDimensionality: 3 }
      ]
    })
    expect(result.body).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0, 0.25, 0.5] },
        { object: "embedding", index: 1, embedding: [1, 1.25, 1.5] }
      ],
      model: "gemini-embedding-001"
    })
    expect(result.usage).toBeUndefined()
  })

  it("base64 is little-endian float32", async () => {
    const transport = fakeTransport(embedReply(1))
    const result = await Effect.runPromise(
      adapterFor(transport).embeddings({ model: "embed", input: "a", encoding_format: "base64" }, context("gemini-embedding-001"))
    )
    const encoded = (result.body as any).data[0].embedding as string
    const bytes = Buffer.from(encoded, "base64")
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

    expect(bytes.byteLength).toBe(12)
    expect([view.getFloat32(0, true), view.getFloat32(4, true), view.getFloat32(8, true)]).toEqual([0, 0.25, 0.5])
  })

  it("inputs beyond 100 split into batches", async () => {
    const transport = fakeTransport((request) => embedReply(JSON.parse(String(request.body)).requests.length, 1))
    const input = Array.from({ length: 150 }, (_, index) => `text ${index}`)
    const result = await Effect.runPromise(adapterFor(transport).embeddings({ model: "embed", input }, context("gemini-embedding-001")))

    expect(transport.requests.map((request) => JSON.parse(String(request.body)).requests.length)).toEqual([100, 50])
    const data = (result.body as any).data as Array<{ index: number }>
    expect(data.map((item) => item.index)).toEqual(Array.from({ length: 150 }, (_, index) => index))
  })

  it("token ids rejected", async () => {
    const transport = fakeTransport([])
    const error = await failureOf(adapterFor(transport).embeddings({ model: "embed", input: [1, 2, 3] }, context("gemini-embedding-001")))
    expect(error).toMatchObject({ _tag: "InvalidRequestError", param: "input" })
  })

  it("count mismatch is a protocol error", async () => {
    const transport = fakeTransport(embedReply(1))
    const error = await failureOf(adapterFor(transport).embeddings({ model: "embed", input: ["a", "b"] }, context("gemini-embedding-001")))
    expect(error._tag).toBe("UpstreamProtocolError")
  })
})

describe("listModels", () => {
  it("follows page tokens", async () => {
    const transport = fakeTransport([
      jsonReply(200, { models: [{ name: "models/gemini-2.5-flash", displayName: "Gemini 2.5 Flash" }], nextPageToken: "page 2" }),
      jsonReply(200, { models: [{ name: "models/gemini-embedding-001" }] })
    ])
    const models = await Effect.runPromise(adapterFor(transport).listModels!({ signal: new AbortController().signal }))

    expect(models).toEqual([
      { id: "gemini-2.5-flash", ownedBy: "google" },
      { id: "gemini-embedding-001", ownedBy: "google" }
    ])
    expect(transport.requests.map((request) => request.url)).toEqual([
      `${BASE_URL}/models?pageSize=1000`,
      `${BASE_URL}/models?pageSize=1000&pageToken=page%202`
    ])
    expect(transport.requests[0]!.method).toBe("GET")
    expect(transport.requests[0]!.body).toBeUndefined()
  })
})
