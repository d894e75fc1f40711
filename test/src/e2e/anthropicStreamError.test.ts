import Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { fixtureText } from "./harness.js"

const ANTHROPIC_KEY = "sk-ant-test-upstream-key"

// No licensed recording has an Anthropic error event after the stream started,
// so these streams are written by hand in Anthropic's documented event format.
const streamWithErrorEvent = (error: { readonly type: string; readonly message: string }): string =>
  [
    `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}`,
    `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
    `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
    `event: error\ndata: ${JSON.stringify({ type: "error", error })}`,
    ""
  ].join("\n\n")

const streamWithError = streamWithErrorEvent({ type: "overloaded_error", message: "Overloaded" })

// An upstream that quotes the credential it was sent, which Fluxen must never pass on.
const streamQuotingKey = streamWithErrorEvent({ type: "api_error", message: `Internal error while serving key ${ANTHROPIC_KEY}.` })

describe("Anthropic error after the stream started", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: "plugins: []",
      providersYaml: `  anthropic:\n    use: "@fluxen/provider-anthropic"\n    config:\n      baseUrl: ${upstream.url}/v1\n      apiKey: ${ANTHROPIC_KEY}\n`,
      modelsYaml: `  claude-sonnet-4-5:\n    provider: anthropic\n`
    })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  const send = async (path: string, body: unknown, stream = streamWithError) => {
    upstream.enqueue({ body: stream, headers: { "content-type": "text/event-stream" } })
    const response = await fetch(`${gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    return response.text()
  }

  it("sends one error event on the chat route", async () => {
    const text = await send("/v1/chat/completions", { model: "claude-sonnet-4-5", stream: true, messages: [{ role: "user", content: "hi" }] })
    expect(text.match(/"error":\{/g)).toHaveLength(1)
    expect(text).toContain("Overloaded")
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
  })

  it("sends one error event on the messages route", async () => {
    const text = await send("/v1/messages", { model: "claude-sonnet-4-5", stream: true, max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
    expect(text.match(/event: error/g)).toHaveLength(1)
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
  })

  it("redacts the key in the event", async () => {
    const text = await send(
      "/v1/messages",
      { model: "claude-sonnet-4-5", stream: true, max_tokens: 100, messages: [{ role: "user", content: "hi" }] },
      streamQuotingKey
    )

    expect(text).not.toContain(ANTHROPIC_KEY)
    expect(text).toContain('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal error while serving key [redacted]."}}')
  })

  it("Anthropic SDK never sees the key", async () => {
    upstream.enqueue({ body: streamQuotingKey, headers: { "content-type": "text/event-stream" } })
    const client = new Anthropic({ baseURL: gateway.url, apiKey: "client-key", maxRetries: 0 })

    const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
    const error = await stream.finalMessage().then(
      () => undefined,
      (failure: unknown) => failure
    )

    expect(error).toBeInstanceOf(Anthropic.APIError)
    const apiError = error as Anthropic.APIError
    expect(apiError.type).toBe("api_error")
    expect(apiError.apiMessage).toBe("Internal error while serving key [redacted].")
    expect(apiError.message).not.toContain(ANTHROPIC_KEY)
    expect(JSON.stringify(apiError.error)).not.toContain(ANTHROPIC_KEY)
  })
})

// An OpenAI-compatible deployment behind the messages route reports its failure as an
// OpenAI-style error event, which has no HTTP status. Its numeric code or its type decides
// the Anthropic error type, and before the first event also the status, which picks the
// Anthropic SDK's error class.
describe("OpenAI deployment error on the messages route", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let client: Anthropic

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    // One model a test, because failures count toward a deployment's cooldown across tests.
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: "plugins: []",
      modelsYaml: ["oa-mid-stream", "oa-rate-limited", "oa-overloaded"].map((name) => `  ${name}:\n    provider: openai\n`).join("")
    })
    client = new Anthropic({ baseURL: gateway.url, apiKey: "client-key", maxRetries: 0 })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  // The first chunk of a recorded OpenAI chat stream, so the stream has started when the error comes.
  const firstChunk = fixtureText("openai/chat-completions/text-stream-usage.sse").split("\n\n")[0]!

  const enqueueStream = (body: string) => upstream.enqueue({ body, headers: { "content-type": "text/event-stream" }, delayMs: 20 })

  const messageFailure = (model: string) =>
    client.messages
      .stream({ model, max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
      .then(
        () => undefined,
        (failure: unknown) => failure
      )

  it("mid-stream overloaded: overloaded_error event", async () => {
    enqueueStream(`${firstChunk}\n\ndata: {"error":{"message":"Overloaded","type":"overloaded_error"}}\n\n`)

    const error = await messageFailure("oa-mid-stream")

    expect(error).toBeInstanceOf(Anthropic.APIError)
    const apiError = error as Anthropic.APIError
    expect(apiError.type).toBe("overloaded_error")
    expect(apiError.apiMessage).toBe("Overloaded")
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(200)
  })

  it("first-event rate limit: RateLimitError", async () => {
    const message = "Rate limit reached for requests per min."
    enqueueStream(`data: ${JSON.stringify({ error: { message, type: "requests", param: null, code: "rate_limit_exceeded" } })}\n\n`)

    const error = await messageFailure("oa-rate-limited")

    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(429)
    expect(apiError.type).toBe("rate_limit_error")
    expect(apiError.apiMessage).toBe(message)
    expect((await gateway.usageRecords()).at(-1)!.httpStatus).toBe(429)
  })

  it("first-event overloaded: OverloadedError", async () => {
    enqueueStream('data: {"error":{"message":"Overloaded","type":"overloaded_error"}}\n\n')

    const error = await messageFailure("oa-overloaded")

    expect(error).toBeInstanceOf(Anthropic.OverloadedError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(529)
    expect(apiError.type).toBe("overloaded_error")
  })
})
