/**
 * OpenAI-compatible streams that fail in their first event. OpenAI, OpenRouter,
 * vLLM and other servers may respond to a streamed request with HTTP 200 and
 * then send `data: {"error": ...}` before any chunk. Nothing has reached the
 * client then, so Fluxen retries or falls back as it does for an HTTP error
 * status. An error after the first chunk still reaches the client in the stream.
 * Two other shapes count as errors too: OpenRouter's chunk that carries both
 * `choices` (with `finish_reason: "error"`) and `error`, and vLLM's error
 * object without the `error` envelope, as vLLM wrote it before v0.10.1.
 * On `/v1/responses`, an `error` or `response.failed` first event fails the
 * call in the same way, and the same events later in a stream pass through
 * unchanged, because Responses API clients read them as part of the stream.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { Reply } from "../support/replayUpstream.js"
import {
  CLIENT_API_KEY,
  chatFixtureText,
  failureOf,
  fixtureJson,
  fixtureText,
  NO_PLUGINS,
  openaiPairProvidersYaml,
  orderedPairYaml,
  retryingModelYaml,
  ssePayloads,
  startHarness,
  type Harness
} from "./harness.js"

// Each test has its own upstream model, because failures count toward a deployment's cooldown across tests.
const modelsYaml = [
  orderedPairYaml("pair-chat"),
  orderedPairYaml("pair-completions"),
  orderedPairYaml("pair-failing"),
  orderedPairYaml("pair-mid-stream"),
  retryingModelYaml("retry-chat"),
  orderedPairYaml("pair-chunk-first"),
  orderedPairYaml("pair-chunk-mid"),
  orderedPairYaml("pair-flat-first"),
  orderedPairYaml("pair-flat-rejected"),
  orderedPairYaml("pair-responses-error-first"),
  orderedPairYaml("pair-responses-failed-first"),
  orderedPairYaml("pair-responses-failing"),
  orderedPairYaml("pair-responses-later")
].join("")

// OpenRouter's recorded 429 body, sent as the first event after a keep-alive comment, as OpenRouter
// frames its streams. No licensed recording has an error event inside a stream.
const RATE_LIMITED = fixtureJson<{ error: { code: number; message: string } }>("openai-compatible/chat-completions/error-429-openrouter.json")
const errorEvent = `data: ${JSON.stringify(RATE_LIMITED)}\n\n`

// The pause puts the comment and the error event in separate network reads.
const errorFirst: Reply = {
  headers: { "content-type": "text/event-stream" },
  body: `: OPENROUTER PROCESSING\n\n${errorEvent}`,
  writes: "per-event",
  delayMs: 30
}

const CHAT_STREAM = "openai/chat-completions/text-stream-usage.sse"
const CHAT_TEXT = chatFixtureText(CHAT_STREAM)
const COMPLETIONS_STREAM = "openai/completions/text-stream-usage.chunks.txt"

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

let harness: Harness
let seen = 0

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS, providersYaml: openaiPairProvidersYaml, modelsYaml })
})

afterAll(async () => {
  await harness?.close()
})

beforeEach(() => {
  seen = harness.upstream.requests.length
})

const newPaths = () => harness.upstream.requests.slice(seen).map((request) => request.path)

const chatText = async (client: OpenAI, model: string): Promise<string> => {
  const stream = await client.chat.completions.create({ model, messages: question, stream: true, stream_options: { include_usage: true } })
  let text = ""
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
  return text
}

describe("OpenAI error as the first stream event", () => {

  it("chat stream falls back", async () => {
    harness.upstream.enqueue(errorFirst)
    harness.upstream.enqueue({ fixture: CHAT_STREAM })

    const text = await chatText(harness.client, "pair-chat")

    expect(text).toBe(CHAT_TEXT)
    expect(newPaths()).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("backup")
    expect(record.status).toBe("ok")
    expect(record.httpStatus).toBe(200)
    // The recording's usage chunk reports 78 prompt and 9 completion tokens.
    expect(record.promptTokens).toBe(78)
    expect(record.completionTokens).toBe(9)
  })

  it("chat stream retries the deployment", async () => {
    harness.upstream.enqueue(errorFirst)
    harness.upstream.enqueue({ fixture: CHAT_STREAM })

    const text = await chatText(harness.client, "retry-chat")

    expect(text).toBe(CHAT_TEXT)
    expect(newPaths()).toEqual(["/primary/v1/chat/completions", "/primary/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("primary")
    expect(record.status).toBe("ok")
  })

  it("completions stream falls back", async () => {
    harness.upstream.enqueue(errorFirst)
    harness.upstream.enqueue({ fixture: COMPLETIONS_STREAM })

    const stream = await harness.client.completions.create({ model: "pair-completions", prompt: "Say hi", stream: true })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? ""

    const expected = fixtureText(COMPLETIONS_STREAM)
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => (JSON.parse(line) as { choices: Array<{ text?: string }> }).choices[0]?.text ?? "")
      .join("")
    expect(expected.length).toBeGreaterThan(0)
    expect(text).toBe(expected)
    expect(newPaths()).toEqual(["/primary/v1/completions", "/backup/v1/completions"])
    expect((await harness.gateway.usageRecords()).at(-1)!.provider).toBe("backup")
  })

  it("all failing: error with its status", async () => {
    // The SDK's default of two retries, which would triple the upstream calls without `x-should-retry: false`.
    const retryingClient = new OpenAI({ baseURL: harness.gateway.baseURL, apiKey: CLIENT_API_KEY, maxRetries: 2 })
    harness.upstream.enqueue(errorFirst)
    harness.upstream.enqueue(errorFirst)

    const error = await failureOf(retryingClient.chat.completions.create({ model: "pair-failing", messages: question, stream: true }))

    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    const apiError = error as InstanceType<typeof OpenAI.APIError>
    expect(apiError.status).toBe(429)
    expect(apiError.error).toEqual({ message: RATE_LIMITED.error.message, type: "rate_limit_error", param: null, code: 429 })
    expect(apiError.headers?.get("content-type")).toContain("application/json")
    expect(apiError.headers?.get("x-should-retry")).toBe("false")
    expect(newPaths()).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("backup")
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(429)
    expect(record.errorType).toBe("UpstreamHttpError")
  })

  it("error after first chunk: no retry", async () => {
    const firstChunk = fixtureText(CHAT_STREAM).split("\n\n")[0]!
    harness.upstream.enqueue({ headers: { "content-type": "text/event-stream" }, body: `${firstChunk}\n\n${errorEvent}`, delayMs: 30 })

    const stream = await harness.client.chat.completions.create({ model: "pair-mid-stream", messages: question, stream: true })
    const chunks: Array<unknown> = []
    const error = await failureOf(
      (async () => {
        for await (const chunk of stream) chunks.push(chunk)
      })()
    )

    expect(chunks).toHaveLength(1)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain(RATE_LIMITED.error.message)
    expect(newPaths()).toEqual(["/primary/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("primary")
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(200)
  })
})

// No licensed recording has either shape, so both are written by hand in the documented layout.
const FAILED_MESSAGE = "Upstream provider connection lost"
const failedChunk = JSON.stringify({
  id: "gen-1",
  object: "chat.completion.chunk",
  created: 1760000000,
  model: "openai/gpt-4o-mini",
  provider: "OpenAI",
  error: { code: 502, message: FAILED_MESSAGE },
  choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }]
})

const flatError = (message: string, type: string, code: number) => JSON.stringify({ object: "error", message, type, param: null, code })

const streamReply = (body: string): Reply => ({ headers: { "content-type": "text/event-stream" }, body, writes: "per-event", delayMs: 30 })

describe("OpenAI-compatible error chunks", () => {
  it("OpenRouter error chunk first: falls back", async () => {
    harness.upstream.enqueue(streamReply(`: OPENROUTER PROCESSING\n\ndata: ${failedChunk}\n\n`))
    harness.upstream.enqueue({ fixture: CHAT_STREAM })

    const text = await chatText(harness.client, "pair-chunk-first")

    expect(text).toBe(CHAT_TEXT)
    expect(newPaths()).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("backup")
    expect(record.status).toBe("ok")
  })

  it("OpenRouter error chunk later: error recorded", async () => {
    const firstChunk = fixtureText(CHAT_STREAM).split("\n\n")[0]!
    harness.upstream.enqueue(streamReply(`${firstChunk}\n\ndata: ${failedChunk}\n\ndata: [DONE]\n\n`))

    const stream = await harness.client.chat.completions.create({ model: "pair-chunk-mid", messages: question, stream: true })
    const chunks: Array<unknown> = []
    const error = await failureOf(
      (async () => {
        for await (const chunk of stream) chunks.push(chunk)
      })()
    )

    expect(chunks).toHaveLength(1)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    // Fluxen's own error event, in OpenAI's shape, not the upstream's chunk.
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toEqual({ message: FAILED_MESSAGE, type: "api_error", param: null, code: 502 })
    expect(newPaths()).toEqual(["/primary/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(200)
    expect(record.errorType).toBe("UpstreamHttpError")
  })

  it("vLLM flat error first: falls back", async () => {
    harness.upstream.enqueue(streamReply(`data: ${flatError("The engine failed.", "InternalServerError", 500)}\n\n`))
    harness.upstream.enqueue({ fixture: CHAT_STREAM })

    const text = await chatText(harness.client, "pair-flat-first")

    expect(text).toBe(CHAT_TEXT)
    expect(newPaths()).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
    expect((await harness.gateway.usageRecords()).at(-1)!.provider).toBe("backup")
  })

  it("vLLM flat 400 first: rejected", async () => {
    const message = "This model's maximum context length is 2048 tokens."
    harness.upstream.enqueue(streamReply(`data: ${flatError(message, "BadRequestError", 400)}\n\n`))

    const error = await failureOf(harness.client.chat.completions.create({ model: "pair-flat-rejected", messages: question, stream: true }))

    // A 400 is the request's fault, so routing tries no other deployment.
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toEqual({ message, type: "BadRequestError", param: null, code: 400 })
    expect(newPaths()).toEqual(["/primary/v1/chat/completions"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(400)
  })
})

const RESPONSES_STREAM = "openai/responses/text-stream.sse"
const RECORDED_RESPONSES_TYPES = ssePayloads(RESPONSES_STREAM).map((event: { type: string }) => event.type)

// No licensed recording has a failed Responses stream, so these events are written by hand in the
// shapes of the `openai` package's `ResponseErrorEvent` and `ResponseFailedEvent`.
const RESPONSES_RATE_LIMIT = "Rate limit reached for requests per min."
const responsesErrorEvent = `event: error\ndata: ${JSON.stringify({
  type: "error",
  sequence_number: 0,
  code: "rate_limit_exceeded",
  message: RESPONSES_RATE_LIMIT,
  param: null
})}\n\n`
const responsesFailedEvent = (sequenceNumber: number) =>
  `event: response.failed\ndata: ${JSON.stringify({
    type: "response.failed",
    sequence_number: sequenceNumber,
    response: { id: "resp_1", object: "response", status: "failed", error: { code: "server_error", message: "The server had an error." }, output: [] }
  })}\n\n`
const responsesCreatedEvent = `event: response.created\ndata: ${JSON.stringify({
  type: "response.created",
  sequence_number: 0,
  response: { id: "resp_1", object: "response", status: "in_progress", error: null, output: [] }
})}\n\n`

/** Streams a response and returns the types of the events the client received. */
const responsesEventTypes = async (model: string): Promise<Array<string>> => {
  const stream = await harness.client.responses.create({ model, input: "Say hello to the world", stream: true })
  const types: Array<string> = []
  for await (const event of stream) types.push(event.type)
  return types
}

describe("Responses failure as the first stream event", () => {
  it("error event first: falls back", async () => {
    harness.upstream.enqueue(streamReply(responsesErrorEvent))
    harness.upstream.enqueue({ fixture: RESPONSES_STREAM })

    const types = await responsesEventTypes("pair-responses-error-first")

    expect(types).toEqual(RECORDED_RESPONSES_TYPES)
    expect(newPaths()).toEqual(["/primary/v1/responses", "/backup/v1/responses"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("backup")
    expect(record.status).toBe("ok")
    // The recording's `response.completed` reports 9 input and 12 output tokens.
    expect(record.promptTokens).toBe(9)
    expect(record.completionTokens).toBe(12)
  })

  it("failed response first: falls back", async () => {
    harness.upstream.enqueue(streamReply(responsesFailedEvent(0)))
    harness.upstream.enqueue({ fixture: RESPONSES_STREAM })

    const types = await responsesEventTypes("pair-responses-failed-first")

    expect(types).toEqual(RECORDED_RESPONSES_TYPES)
    expect(newPaths()).toEqual(["/primary/v1/responses", "/backup/v1/responses"])
  })

  it("all failing: error with its status", async () => {
    harness.upstream.enqueue(streamReply(responsesErrorEvent))
    harness.upstream.enqueue(streamReply(responsesErrorEvent))

    const error = await failureOf(harness.client.responses.create({ model: "pair-responses-failing", input: "Say hello", stream: true }))

    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    const apiError = error as InstanceType<typeof OpenAI.APIError>
    expect(apiError.status).toBe(429)
    expect(apiError.error).toEqual({ message: RESPONSES_RATE_LIMIT, type: "rate_limit_error", param: null, code: "rate_limit_exceeded" })
    expect(newPaths()).toEqual(["/primary/v1/responses", "/backup/v1/responses"])
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(429)
  })

  it("failure after first event: relayed", async () => {
    harness.upstream.enqueue(streamReply(responsesCreatedEvent + responsesFailedEvent(1)))

    const stream = await harness.client.responses.create({ model: "pair-responses-later", input: "Say hello", stream: true })
    const events: Array<OpenAI.Responses.ResponseStreamEvent> = []
    for await (const event of stream) events.push(event)

    expect(events.map((event) => event.type)).toEqual(["response.created", "response.failed"])
    const failed = events[1] as OpenAI.Responses.ResponseFailedEvent
    expect(failed.response.error).toEqual({ code: "server_error", message: "The server had an error." })
    expect(newPaths()).toEqual(["/primary/v1/responses"])
  })
})
