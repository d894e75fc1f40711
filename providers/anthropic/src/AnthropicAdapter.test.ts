import { describe, expect, it } from "@effect/vitest"
import {
  attachCancelNotice,
  HttpTransport,
  InvalidRequestError,
  Plugin,
  PluginHost,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamUnreachableError,
  type ChatRequest,
  type CountTokensRequest,
  type HttpTransportService,
  type MessagesRequest,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Effect, Either, Layer, Redacted, Schema } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import {
  assembleChat,
  collectEvents,
  makeContext,
  makeFakeTransport,
  oneHourCacheWriteJson,
  oneHourCacheWriteStream,
  readFixtureText,
  splitWrites,
  streamFixtureBytes,
  type FakeReply
} from "../test/support.js"
import { makeAnthropicAdapter, type AnthropicAdapterOptions } from "./AnthropicAdapter.js"
import plugin, { AnthropicProviderConfig } from "./index.js"

const apiKey = "sk-ant-test-secret-key-0123456789"

const adapterFor = (replies: Array<FakeReply>, overrides?: Partial<AnthropicAdapterOptions>) => {
  const transport = makeFakeTransport(...replies)
  const adapter = makeAnthropicAdapter(
    {
      provider: "anthropic-test",
      baseUrl: "https://anthropic.invalid/v1/",
      apiKey: Redacted.make(apiKey),
      version: "2023-06-01",
      defaultMaxTokens: 4096,
      ...overrides
    },
    transport
  )
  return { adapter, transport }
}

const jsonReply = (name: string, status = 200, headers: Record<string, string> = {}): FakeReply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: readFixtureText(name)
})

const chatRequest: ChatRequest = { model: "claude", messages: [{ role: "user", content: "Hello" }] }

const failureOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.either(effect), (result) => {
    if (Either.isRight(result)) throw new Error("expected the effect to fail")
    return result.left
  })

describe("chat", () => {
  it.effect("sends a Messages request", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json")])
      yield* adapter.chat(chatRequest, makeContext())

      const sent = transport.requests[0]!
      expect(sent.method).toBe("POST")
      expect(sent.url).toBe("https://anthropic.invalid/v1/messages")
      expect(sent.headers).toEqual({
        "content-type": "application/json",
        accept: "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": apiKey
      })
      expect(JSON.parse(sent.body as string)).toEqual({
        model: "claude-test-model",
        messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }],
        max_tokens: 4096
      })
      expect(sent.idleTimeoutMs).toBe(5_000)
    })
  )

  it.effect("host context: notice passed, signal unread", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json")])
      const notice = { cancelled: () => false, watch: () => () => {} }
      let signalReads = 0
      const base = makeContext()
      const context = attachCancelNotice(
        {
          ...base,
          get signal() {
            signalReads++
            return base.signal
          }
        },
        notice
      )
      yield* adapter.chat(chatRequest, context)

      expect(transport.requests[0]!.cancel).toBe(notice)
      expect(signalReads).toBe(0)
    })
  )

  it.effect("maps the response and usage", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([
        jsonReply("cache-read-and-write.json", 200, { "anthropic-ratelimit-tokens-remaining": "9000", "request-id": "req_1" })
      ])
      const result = yield* adapter.chat(chatRequest, makeContext())
      expect(result.status).toBe(200)
      expect(result.bytes).toBeUndefined()
      expect(result.headers).toEqual({ "anthropic-ratelimit-tokens-remaining": "9000", "x-fluxen-upstream-request-id": "req_1" })
      expect(result.usage).toEqual({ promptTokens: 1532, completionTokens: 33, cachedInputTokens: 1111, cacheWriteTokens: 418, cacheWrite1hTokens: 0, reasoningTokens: 0 })
      const body = result.body as any
      expect(body.object).toBe("chat.completion")
      expect(body.choices[0].message.content).toMatch(/^Python is a beginner-friendly/)
    })
  )

  it.effect("JSON usage has the streaming shape", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([jsonReply("text.json"), { body: streamFixtureBytes("text-stream.chunks.txt") }])
      const json = yield* adapter.chat(chatRequest, makeContext())
      const stream = yield* adapter.chatStream(chatRequest, makeContext())
      const { events } = yield* Effect.promise(() => collectEvents(stream.events))

      const usageChunk = events.find((event) => event.usageOnly)!.json as any
      const jsonUsage = (json.body as any).usage
      const shape = (value: unknown): unknown =>
        typeof value === "object" && value !== null
          ? Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shape(inner)]))
          : typeof value
      expect(shape(jsonUsage)).toEqual(shape(usageChunk.usage))
      expect(Object.keys(json.usage!).sort()).toEqual(Object.keys(events.at(-2)!.usage!).sort())
    })
  )

  it.effect("stream request asks for SSE", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([{ body: streamFixtureBytes("text-stream.chunks.txt") }])
      yield* adapter.chatStream({ ...chatRequest, stream: true }, makeContext())
      const sent = transport.requests[0]!
      expect(sent.headers.accept).toBe("text/event-stream")
      expect(JSON.parse(sent.body as string).stream).toBe(true)
    })
  )

  it.effect("merges configured and client betas", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json")], { betas: ["beta-a", "beta-b"] })
      yield* adapter.chat(chatRequest, makeContext({ clientHeaderValues: { "anthropic-beta": "beta-b, beta-c" } }))
      expect(transport.requests[0]!.headers["anthropic-beta"]).toBe("beta-a,beta-b,beta-c")
    })
  )

  it.effect("no key, no x-api-key header", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json")], { apiKey: undefined })
      yield* adapter.chat(chatRequest, makeContext())
      expect(transport.requests[0]!.headers["x-api-key"]).toBeUndefined()
    })
  )

  it.effect("invalid request sends nothing", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([])
      const bad: ChatRequest = {
        model: "claude",
        messages: [{ role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{" } }] }]
      }
      const error = yield* failureOf(adapter.chat(bad, makeContext()))
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect((error as InvalidRequestError).param).toBe("messages[0].tool_calls[0].function.arguments")
      expect(transport.requests).toHaveLength(0)
    })
  )

  it.effect("body that is not a message", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([{ body: '{"unexpected":true}' }])
      const error = yield* failureOf(adapter.chat(chatRequest, makeContext()))
      expect(error).toBeInstanceOf(UpstreamProtocolError)
    })
  )
})

describe("upstream errors", () => {
  const recorded = [
    { fixture: "error-400-invalid-request.json", status: 400, type: "invalid_request_error", message: "messages.0: Input does not match the expected shape." },
    { fixture: "error-401-authentication.json", status: 401, type: "authentication_error", message: "invalid x-api-key" }
  ]
  for (const { fixture, status, type, message } of recorded) {
    it.effect(`${fixture} maps`, () =>
      Effect.gen(function* () {
        const { adapter } = adapterFor([jsonReply(fixture, status)])
        const error = yield* failureOf(adapter.chat(chatRequest, makeContext()))
        expect(error).toBeInstanceOf(UpstreamHttpError)
        const httpError = error as UpstreamHttpError
        expect(httpError.status).toBe(status)
        expect(httpError.error).toEqual({ message, type, param: null, code: null })
        expect(httpError.provider).toBe("anthropic-test")
      })
    )

    it.effect(`${fixture} never shows the key`, () =>
      Effect.gen(function* () {
        const { adapter } = adapterFor([jsonReply(fixture, status), jsonReply(fixture, status), jsonReply(fixture, status)])
        const errors = [
          yield* failureOf(adapter.chat(chatRequest, makeContext())),
          yield* failureOf(adapter.chatStream(chatRequest, makeContext())),
          yield* failureOf(adapter.passthrough!("messages", { model: "m", max_tokens: 5, messages: [] }, makeContext()))
        ]
        for (const error of errors) {
          expect(JSON.stringify(error)).not.toContain(apiKey)
          expect(String(error)).not.toContain(apiKey)
          expect(error.message).not.toContain(apiKey)
        }
      })
    )
  }

  it.effect("rate-limit headers kept", () =>
    Effect.gen(function* () {
      const overloaded = '{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}'
      const { adapter } = adapterFor([
        {
          status: 429,
          headers: {
            "retry-after": "12",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-tokens-reset": "2025-01-01T00:00:12Z",
            "x-ratelimit-limit": "50",
            "request-id": "req_abc",
            "set-cookie": "session=1"
          },
          body: overloaded
        }
      ])
      const error = (yield* failureOf(adapter.chat(chatRequest, makeContext()))) as UpstreamHttpError
      expect(error.status).toBe(429)
      expect(error.error.type).toBe("rate_limit_error")
      expect(error.headers).toEqual({
        "retry-after": "12",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2025-01-01T00:00:12Z",
        "x-ratelimit-limit": "50",
        "x-fluxen-upstream-request-id": "req_abc"
      })
    })
  )

  it.effect("HTML error body is not echoed", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([{ status: 502, headers: { "content-type": "text/html" }, body: "<html>secret proxy page</html>" }])
      const error = (yield* failureOf(adapter.chat(chatRequest, makeContext()))) as UpstreamHttpError
      expect(error.status).toBe(502)
      expect(error.error.message).toBe("The upstream returned HTTP 502.")
      expect(error.error.type).toBe("api_error")
    })
  )
})

describe("other endpoints", () => {
  it.effect("embeddings unsupported", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([])
      const error = yield* failureOf(adapter.embeddings({ model: "m", input: "x" }, makeContext()))
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect((error as InvalidRequestError).code).toBe("unsupported_endpoint")
      expect(error.message).toMatch(/Anthropic has no embeddings API/)
      expect(transport.requests).toHaveLength(0)
    })
  )

  it.effect("listModels follows pages", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([
        { body: JSON.stringify({ data: [{ id: "claude-a", type: "model" }, { id: "claude-b", type: "model" }], has_more: true, first_id: "claude-a", last_id: "claude-b" }) },
        { body: JSON.stringify({ data: [{ id: "claude-c", type: "model" }], has_more: false, first_id: "claude-c", last_id: "claude-c" }) }
      ])
      const models = yield* adapter.listModels!({ signal: new AbortController().signal })
      expect(models).toEqual([
        { id: "claude-a", ownedBy: "anthropic" },
        { id: "claude-b", ownedBy: "anthropic" },
        { id: "claude-c", ownedBy: "anthropic" }
      ])
      expect(transport.requests.map((request) => request.url)).toEqual([
        "https://anthropic.invalid/v1/models?limit=1000",
        "https://anthropic.invalid/v1/models?limit=1000&after_id=claude-b"
      ])
      expect(transport.requests[0]!.method).toBe("GET")
      expect(transport.requests[0]!.headers["x-api-key"]).toBe(apiKey)
    })
  )

  it.effect("passthrough rejects completions", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([])
      const error = yield* failureOf(adapter.passthrough!("completions", { model: "m", prompt: "x" }, makeContext()))
      expect((error as InvalidRequestError).code).toBe("unsupported_endpoint")
    })
  )
})

describe("messages passthrough", () => {
  const messagesRequest: MessagesRequest = {
    model: "client-name",
    max_tokens: 100,
    messages: [{ role: "user", content: "Hi" }],
    top_k: 3,
    system: [{ type: "text", text: "S", cache_control: { type: "ephemeral" } }]
  }

  it.effect("JSON body forwarded", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("cache-read-and-write.json")])
      const result = yield* adapter.passthrough!("messages", messagesRequest, makeContext())
      expect(JSON.parse(transport.requests[0]!.body as string)).toEqual({ ...messagesRequest, model: "claude-test-model" })
      expect(result._tag).toBe("Json")
      if (result._tag !== "Json") return
      expect(new TextDecoder().decode(result.bytes)).toBe(readFixtureText("cache-read-and-write.json"))
      expect((result.body as any).usage.cache_read_input_tokens).toBe(1111)
      expect(result.usage).toEqual({ promptTokens: 1532, completionTokens: 33, cachedInputTokens: 1111, cacheWriteTokens: 418, cacheWrite1hTokens: 0, reasoningTokens: 0 })
    })
  )

  it.effect("stream keeps Anthropic events", () =>
    Effect.gen(function* () {
      const raw = streamFixtureBytes("cache-read-stream.sse")
      const { adapter, transport } = adapterFor([{ body: raw, pattern: { kind: "slices", bytes: 7 } }])
      const result = yield* adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext())
      expect(transport.requests[0]!.headers.accept).toBe("text/event-stream")
      if (result._tag !== "Stream") throw new Error("expected a stream")
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
      expect(error).toBeUndefined()

      const rawEvents = new TextDecoder().decode(raw).split("\n\n").filter((text) => text !== "")
      expect(events.map((event) => `event: ${event.event}\ndata: ${event.data}`)).toEqual(rawEvents)
      // message_start's output count is a placeholder, so none is reported until message_delta.
      expect(events[0]!.usage).toEqual({ promptTokens: 1042, completionTokens: 0, cachedInputTokens: 1031, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0 })
      expect(events.at(-1)!.usage).toEqual({ promptTokens: 1042, completionTokens: 100, cachedInputTokens: 1031, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0 })
    })
  )

  it.effect("forwards the client's anthropic-version", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json"), jsonReply("text.json")])
      yield* adapter.passthrough!("messages", messagesRequest, makeContext({ clientHeaderValues: { "anthropic-version": "2023-01-01" } }))
      yield* adapter.passthrough!("messages", messagesRequest, makeContext())

      expect(transport.requests[0]!.headers["anthropic-version"]).toBe("2023-01-01")
      expect(transport.requests[1]!.headers["anthropic-version"]).toBe("2023-06-01")
    })
  )

  it.effect("chat keeps the configured version", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([jsonReply("text.json")])
      yield* adapter.chat(chatRequest, makeContext({ clientHeaderValues: { "anthropic-version": "2023-01-01" } }))

      expect(transport.requests[0]!.headers["anthropic-version"]).toBe("2023-06-01")
    })
  )

  it.effect("stream error as first event", () =>
    Effect.gen(function* () {
      const body = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
      const { adapter, transport } = adapterFor([{ body }])
      const error = yield* Effect.flip(adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext()))
      expect(error).toBeInstanceOf(UpstreamHttpError)
      const httpError = error as UpstreamHttpError
      expect(httpError.status).toBe(529)
      expect(httpError.error).toEqual({ message: "Overloaded", type: "overloaded_error", param: null, code: null })
      expect(transport.discarded()).toBe(1)
    })
  )

  it.effect("stream error after ping", () =>
    Effect.gen(function* () {
      const body =
        'event: ping\ndata: {"type": "ping"}\n\n' +
        'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal server error"}}\n\n'
      const { adapter } = adapterFor([{ body }])
      const error = yield* Effect.flip(adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext()))
      expect((error as UpstreamHttpError).status).toBe(500)
    })
  )

  it.effect("stream returned after message_start", () =>
    Effect.gen(function* () {
      // The body breaks right after message_start, so a call that read further would fail.
      const broken = new UpstreamUnreachableError({ provider: "anthropic-test", reason: "the connection closed before the response completed" })
      const body =
        'event: ping\ndata: {"type": "ping"}\n\n' +
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
      const { adapter } = adapterFor([{ body, failAfterWrites: broken }])
      const result = yield* adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext())
      if (result._tag !== "Stream") throw new Error("expected a stream")
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
      expect(events.map((event) => event.event)).toEqual(["ping", "message_start"])
      expect(error).toBe(broken)
    })
  )

  it.effect("key removed from error messages", () =>
    Effect.gen(function* () {
      const echoed = (type: string) => JSON.stringify({ type: "error", error: { type, message: `Rejected key ${apiKey}.` } })
      const streamed =
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n' +
        `event: error\ndata: ${echoed("overloaded_error")}\n\n`
      const { adapter } = adapterFor([{ status: 401, body: echoed("authentication_error") }, { body: streamed }])

      const rejected = yield* Effect.flip(adapter.passthrough!("messages", messagesRequest, makeContext()))
      expect((rejected as UpstreamHttpError).error.message).toBe("Rejected key [redacted].")

      const result = yield* adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext())
      if (result._tag !== "Stream") throw new Error("expected a stream")
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
      expect((error as UpstreamHttpError).error.message).toBe("Rejected key [redacted].")
      expect(events.map((event) => event.data).join("\n")).not.toContain(apiKey)
    })
  )

  it.effect("stream error event then failure", () =>
    Effect.gen(function* () {
      // Written by hand: no licensed recording of a mid-stream error exists.
      const body =
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n' +
        'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal server error"}}\n\n'
      const { adapter } = adapterFor([{ body }])
      const result = yield* adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext())
      if (result._tag !== "Stream") throw new Error("expected a stream")
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
      // The host writes its own redacted error event, so the upstream's is not yielded.
      expect(events.map((event) => event.event)).toEqual(["message_start"])
      expect(error).toBeInstanceOf(UpstreamHttpError)
      expect((error as UpstreamHttpError).status).toBe(500)
      expect((error as UpstreamHttpError).error.type).toBe("api_error")
    })
  )
})

describe("token counting", () => {
  // No recording of count_tokens exists, so these bodies follow the response
  // shape in Anthropic's API reference: `{"input_tokens": N}`.
  const countRequest: CountTokensRequest = {
    model: "client-name",
    messages: [{ role: "user", content: "Hi" }],
    system: "Be brief.",
    tools: [{ name: "get_weather", input_schema: { type: "object", properties: {} } }],
    thinking: { type: "enabled", budget_tokens: 1024 }
  }

  it.effect("forwards the body unchanged", () =>
    Effect.gen(function* () {
      const { adapter, transport } = adapterFor([{ headers: { "content-type": "application/json" }, body: '{"input_tokens":42}' }], {
        betas: ["token-efficient-tools-2025-02-19"]
      })

      yield* adapter.countTokens!(countRequest, makeContext({ clientHeaderValues: { "anthropic-beta": "interleaved-thinking-2025-05-14" } }))

      const sent = transport.requests[0]!
      expect(sent.method).toBe("POST")
      expect(sent.url).toBe("https://anthropic.invalid/v1/messages/count_tokens")
      expect(sent.headers).toEqual({
        "content-type": "application/json",
        accept: "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": apiKey,
        "anthropic-beta": "token-efficient-tools-2025-02-19,interleaved-thinking-2025-05-14"
      })
      expect(JSON.parse(sent.body as string)).toEqual({ ...countRequest, model: "claude-test-model" })
    })
  )

  it.effect("returns the upstream count", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([
        { headers: { "content-type": "application/json", "anthropic-ratelimit-requests-remaining": "99", "set-cookie": "s=1" }, body: '{"input_tokens":42}' }
      ])

      const count = yield* adapter.countTokens!(countRequest, makeContext())

      expect(count.inputTokens).toBe(42)
      expect(count.headers).toEqual({ "anthropic-ratelimit-requests-remaining": "99" })
    })
  )

  it.effect("maps an upstream error", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([jsonReply("error-401-authentication.json", 401)])

      const error = yield* failureOf(adapter.countTokens!(countRequest, makeContext()))

      expect(error).toBeInstanceOf(UpstreamHttpError)
      expect((error as UpstreamHttpError).status).toBe(401)
      expect((error as UpstreamHttpError).error.type).toBe("authentication_error")
      expect(JSON.stringify(error)).not.toContain(apiKey)
    })
  )

  it.effect("rejects a body without a count", () =>
    Effect.gen(function* () {
      for (const body of ['{"tokens":42}', '{"input_tokens":-1}', '{"input_tokens":4.5}', "not json"]) {
        const { adapter } = adapterFor([{ headers: { "content-type": "application/json" }, body }])
        const error = yield* failureOf(adapter.countTokens!(countRequest, makeContext()))
        expect(error, body).toBeInstanceOf(UpstreamProtocolError)
      }
    })
  )
})

describe("plugin definition", () => {
  it.effect("decodes config and builds adapter", () =>
    Effect.gen(function* () {
      const config = yield* Schema.decodeUnknown(AnthropicProviderConfig)({ apiKey: apiKey })
      expect(config.baseUrl).toBe("https://api.anthropic.com/v1")
      expect(config.version).toBe("2023-06-01")
      expect(config.defaultMaxTokens).toBe(4096)
      expect(config.betas).toEqual([])
      expect(Redacted.isRedacted(config.apiKey)).toBe(true)
      expect(String(config.apiKey)).not.toContain(apiKey)

      const transport = makeFakeTransport(jsonReply("text.json"))
      const instance = yield* Effect.provide(
        Plugin,
        plugin.layer(config).pipe(
          Layer.provide(Layer.succeed(HttpTransport, transport)),
          Layer.provide(Layer.succeed(PluginHost, { instanceName: "claude", packageName: plugin.name, configDirectory: "/tmp" }))
        )
      )
      yield* instance.provider!.chat(chatRequest, makeContext())
      expect(transport.requests[0]!.url).toBe("https://api.anthropic.com/v1/messages")
      expect(transport.requests[0]!.headers["x-api-key"]).toBe(apiKey)
    })
  )

  it.effect("rejects a bad config", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Schema.decodeUnknown(AnthropicProviderConfig)({ baseUrl: "ftp://x", defaultMaxTokens: 0 }))
      expect(Either.isLeft(result)).toBe(true)
    })
  )
})

// ---------------------------------------------------------------------------
// A real HTTP exchange: a replaying server on 127.0.0.1 and a fetch-based transport.
// ---------------------------------------------------------------------------

/** A minimal `HttpTransport` over the platform `fetch`, enough for the loopback tests. */
const fetchTransport: HttpTransportService = {
  send: async (request) => {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      // slice() gives the Uint8Array an ArrayBuffer, the only kind fetch's types accept.
      body: typeof request.body === "string" || request.body === undefined ? request.body : request.body.slice(),
      signal: request.signal
    })
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name] = value
    })
    const stream = response.body
    async function* body(): AsyncGenerator<Uint8Array> {
      if (stream === null) return
      const reader = stream.getReader()
      for (let read = await reader.read(); !read.done; read = await reader.read()) yield read.value
    }
    const result: UpstreamResponse = {
      status: response.status,
      headers,
      body: body(),
      bytes: async () => new Uint8Array(await response.arrayBuffer()),
      discard: () => void stream?.cancel().catch(() => undefined)
    }
    return result
  }
}

interface ReplayServer {
  readonly url: string
  readonly received: Array<{ readonly path: string; readonly headers: IncomingMessage["headers"]; readonly body: string }>
  readonly close: () => Promise<void>
}

/** Serves `body` in 5-byte writes, 1 ms apart, to every request, as `contentType`. */
const startReplayServer = async (body: Uint8Array, contentType = "text/event-stream"): Promise<ReplayServer> => {
  const received: ReplayServer["received"] = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", async () => {
      received.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") })
      response.writeHead(200, { "content-type": contentType, "anthropic-ratelimit-requests-remaining": "49" })
      for (const write of splitWrites(body, { kind: "slices", bytes: 5 })) {
        response.write(write)
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      response.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      })
  }
}

describe("real HTTP exchange", () => {
  it.effect("thinking stream over loopback", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => startReplayServer(streamFixtureBytes("thinking-stream.chunks.txt"))),
      (server) =>
        Effect.gen(function* () {
          const adapter = makeAnthropicAdapter(
            { provider: "anthropic-local", baseUrl: server.url, apiKey: Redacted.make(apiKey), version: "2023-06-01", defaultMaxTokens: 1024 },
            fetchTransport
          )
          const result = yield* adapter.chatStream({ ...chatRequest, reasoning_effort: "minimal", stream: true }, makeContext())
          expect(result.headers).toEqual({ "anthropic-ratelimit-requests-remaining": "49" })
          const { events, error } = yield* Effect.promise(() => collectEvents(result.events))
          expect(error).toBeUndefined()

          const { completion, reasoning, thinkingBlocks } = assembleChat(events)
          expect(completion.choices[0]!.message.content).toBe("925 ÷ 5 = 185")
          expect(reasoning).toBe("The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185")
          expect((thinkingBlocks[0] as any).signature).toHaveLength(332)
          expect(events.filter((event) => event.usage).at(-1)!.usage).toMatchObject({ promptTokens: 69, completionTokens: 53 })

          const sent = server.received[0]!
          expect(sent.path).toBe("/v1/messages")
          expect(sent.headers["x-api-key"]).toBe(apiKey)
          expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
          expect(JSON.parse(sent.body)).toMatchObject({
            model: "claude-test-model",
            stream: true,
            thinking: { type: "enabled", budget_tokens: 1024 },
            max_tokens: 2048
          })
        }),
      (server) => Effect.promise(() => server.close())
    )
  )

  // The server's body follows the response shape in Anthropic's API reference,
  // because no recording of count_tokens exists.
  it.effect("token count over loopback", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => startReplayServer(new TextEncoder().encode('{"input_tokens":27}'), "application/json")),
      (server) =>
        Effect.gen(function* () {
          const adapter = makeAnthropicAdapter(
            { provider: "anthropic-local", baseUrl: server.url, apiKey: Redacted.make(apiKey), version: "2023-06-01", defaultMaxTokens: 1024 },
            fetchTransport
          )
          const count = yield* adapter.countTokens!({ model: "client-name", messages: [{ role: "user", content: "Hi" }] }, makeContext())

          expect(count).toEqual({ inputTokens: 27, headers: { "anthropic-ratelimit-requests-remaining": "49" } })
          const sent = server.received[0]!
          expect(sent.path).toBe("/v1/messages/count_tokens")
          expect(sent.headers["x-api-key"]).toBe(apiKey)
          expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
          expect(JSON.parse(sent.body)).toEqual({ model: "claude-test-model", messages: [{ role: "user", content: "Hi" }] })
        }),
      (server) => Effect.promise(() => server.close())
    )
  )
})

describe("1-hour cache writes", () => {
  // Real recordings edited to carry 418 cache-write tokens, 300 of them 1-hour (see oneHourCacheWriteJson).
  const jsonUsage = { promptTokens: 1532, completionTokens: 33, cachedInputTokens: 1111, cacheWriteTokens: 418, cacheWrite1hTokens: 300, reasoningTokens: 0 }
  const streamUsage = { promptTokens: 430, completionTokens: 30, cachedInputTokens: 0, cacheWriteTokens: 418, cacheWrite1hTokens: 300, reasoningTokens: 0 }
  const messagesRequest: MessagesRequest = { model: "client-name", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] }
  const jsonSplitReply: FakeReply = { headers: { "content-type": "application/json" }, body: oneHourCacheWriteJson() }

  it.effect("chat JSON usage", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([jsonSplitReply])
      const result = yield* adapter.chat(chatRequest, makeContext())

      expect(result.usage).toEqual(jsonUsage)
      expect((result.body as any).usage.prompt_tokens_details.cache_write_1h_tokens).toBe(300)
    })
  )

  it.effect("chat stream usage", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([{ body: oneHourCacheWriteStream() }])
      const result = yield* adapter.chatStream(chatRequest, makeContext())
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))

      expect(error).toBeUndefined()
      expect(events.findLast((event) => event.usage !== undefined)?.usage).toEqual(streamUsage)
    })
  )

  it.effect("messages JSON usage", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([jsonSplitReply])
      const result = yield* adapter.passthrough!("messages", messagesRequest, makeContext())

      expect(result._tag).toBe("Json")
      expect(result._tag === "Json" ? result.usage : undefined).toEqual(jsonUsage)
    })
  )

  it.effect("messages stream usage", () =>
    Effect.gen(function* () {
      const { adapter } = adapterFor([{ body: oneHourCacheWriteStream(), pattern: { kind: "slices", bytes: 7 } }])
      const result = yield* adapter.passthrough!("messages", { ...messagesRequest, stream: true }, makeContext())
      if (result._tag !== "Stream") throw new Error("expected a stream")
      const { events, error } = yield* Effect.promise(() => collectEvents(result.events))

      expect(error).toBeUndefined()
      expect(events[0]!.usage).toEqual({ ...streamUsage, completionTokens: 0 })
      expect(events.at(-1)!.usage).toEqual(streamUsage)
    })
  )
})
