/**
 * Failures as they reach a client of Fluxen: upstream error responses, requests
 * Fluxen rejects itself, an unreachable or silent upstream, and streams that
 * break part-way. Every error must arrive in OpenAI's error shape, which the
 * OpenAI SDK turns into an `APIError`.
 */
import OpenAI from "openai"
import { createServer, type AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { INVALID_HEADER_NAME } from "../support/invalidHeaderPlugin.js"
import {
  fixtureJson,
  fixtureText,
  makeClient,
  NO_PLUGINS,
  parseOpenAIError,
  postJson,
  readOpenAIError,
  requestIdOf,
  startHarness,
  UPSTREAM_API_KEY,
  waitForRecord,
  type Harness
} from "./harness.js"

const TEXT = "openai/chat-completions/text.json"
const TEXT_STREAM = "openai/chat-completions/text-stream-usage.sse"
const RATE_LIMIT = "openai-compatible/chat-completions/error-429-openrouter.json"

/** A model whose idle timeout is short enough to test: 300 ms. */
const IDLE_MODEL = "gpt-4o-mini-idle"

const idleModelYaml = `  ${IDLE_MODEL}:
    provider: openai
    model: gpt-4o-mini-2024-07-18
    idleTimeout: 300
`

const hello = [{ role: "user" as const, content: "Hello" }]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    pluginsYaml: NO_PLUGINS,
    modelsYaml: idleModelYaml
  })
})

afterAll(async () => {
  await harness?.close()
})

/** Runs `call` and returns the `APIError` it raised, failing when it raised nothing or something else. */
const captureApiError = async (call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> => {
  try {
    await call()
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error
    throw new Error(`Expected an OpenAI APIError, got ${String(error)}`)
  }
  throw new Error("Expected an OpenAI APIError, but the call succeeded")
}

/** Streams a chat completion and returns the text received before the stream raised, and what it raised. */
const streamUntilError = async (model: string) => {
  const { data: stream, response } = await harness.client.chat.completions
    .create({ model, messages: hello, stream: true })
    .withResponse()
  let text = ""
  const error = await captureApiError(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
  })
  return { text, error, requestId: requestIdOf(response.headers) }
}

describe("upstream error responses", () => {
  const cases = [
    ["openai/chat-completions/error-400-unsupported-parameter.json", 400],
    ["openai/chat-completions/error-401-invalid-api-key.json", 401],
    ["openai/chat-completions/error-404-model-not-found.json", 404]
  ] as const

  /**
   * Returns the recorded error as the client gets it. OpenAI's 401 message shows the key it
   * got, masked in the middle (`bad-key-**********test`), and Fluxen removes what is left of it.
   */
  const expectedError = (fixture: string) => {
    const error = fixtureJson(fixture).error
    return { ...error, message: error.message.replace("bad-key-**********test", "[redacted]") }
  }

  it.each(cases)("keeps %s for the OpenAI client", async (fixture, status) => {
    const recorded = expectedError(fixture)
    harness.upstream.enqueue({ fixture })

    const error = await captureApiError(() => harness.client.chat.completions.create({ model: "gpt-4.1-nano", messages: hello }))

    expect(error.status).toBe(status)
    expect(error.type).toBe(recorded.type)
    expect(error.code).toBe(recorded.code)
    expect(error.param).toBe(recorded.param)
    expect((error.error as { message: string }).message).toBe(recorded.message)
    expect(error.headers?.get("x-fluxen-request-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  it.each(cases)("keeps %s on the wire", async (fixture, status) => {
    harness.upstream.enqueue({ fixture })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4.1-nano", messages: hello })
    const text = await response.clone().text()
    const body = await readOpenAIError(response)

    expect(response.status).toBe(status)
    expect(body).toEqual({ error: expectedError(fixture) })
    expect(text).not.toContain(UPSTREAM_API_KEY)
    expect(JSON.stringify([...response.headers])).not.toContain(UPSTREAM_API_KEY)
  })

  it("records an upstream error", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/error-400-unsupported-parameter.json" })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4.1-nano", messages: hello, max_tokens: 5 })
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(response.status).toBe(400)
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(400)
    expect(record.errorType).toBe("UpstreamHttpError")
    expect(record.resolvedModel).toBe("gpt-4.1-nano")
    expect(record.promptTokens).toBeNull()
  })

  it("passes rate limit headers of a 429", async () => {
    harness.upstream.enqueue({
      fixture: RATE_LIMIT,
      headers: { "retry-after": "7", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s" }
    })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    const body = await readOpenAIError(response)

    expect(response.status).toBe(429)
    expect(response.headers.get("retry-after")).toBe("7")
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("0")
    expect(response.headers.get("x-ratelimit-reset-requests")).toBe("7s")
    // OpenRouter's body has no error type and a numeric code. Its metadata and user id are not forwarded.
    expect(body).toEqual({ error: { message: "Provider returned error", type: "rate_limit_error", param: null, code: 429 } })
  })

  it("gives the OpenAI client a RateLimitError with the headers", async () => {
    harness.upstream.enqueue({ fixture: RATE_LIMIT, headers: { "retry-after": "7", "x-ratelimit-remaining-requests": "0" } })

    const error = await captureApiError(() => harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: hello }))

    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect(error.status).toBe(429)
    expect(error.code).toBe(429)
    expect(error.headers?.get("retry-after")).toBe("7")
    expect(error.headers?.get("x-ratelimit-remaining-requests")).toBe("0")
  })
})

describe("malformed upstream responses", () => {
  it("answers 502 for a reply that is not JSON", async () => {
    harness.upstream.enqueue({ status: 200, headers: { "content-type": "text/html" }, body: "<html><body>Bad gateway page</body></html>" })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    const text = await response.clone().text()
    const body = await readOpenAIError(response)

    expect(response.status).toBe(502)
    expect(body.error.type).toBe("upstream_error")
    expect(body.error.code).toBe("upstream_invalid_response")
    expect(text).not.toContain("Bad gateway page")
  })

  it("keeps the status of an error without a JSON body", async () => {
    harness.upstream.enqueue({ status: 503, headers: { "content-type": "text/html" }, body: "<html><body>Service down</body></html>" })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    const text = await response.clone().text()
    const body = await readOpenAIError(response)

    expect(response.status).toBe(503)
    expect(body.error).toEqual({ message: "The upstream returned HTTP 503.", type: "api_error", param: null, code: null })
    expect(text).not.toContain("Service down")
  })

  it("answers a stream request with the upstream's JSON error", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/error-400-unsupported-parameter.json" })

    const error = await captureApiError(() =>
      harness.client.chat.completions.create({ model: "gpt-4.1-nano", messages: hello, max_tokens: 5, stream: true })
    )

    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect(error.status).toBe(400)
    expect(error.code).toBe("unsupported_parameter")
    expect(error.param).toBe("max_tokens")
  })

  it("stream response in plain JSON", async () => {
    // A server that ignores `stream: true` returns a whole completion instead of events.
    harness.upstream.enqueue({ fixture: TEXT })

    const error = await captureApiError(() => harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: hello, stream: true }))
    const record = await waitForRecord(harness.gateway, error.requestID ?? "")

    expect(error.status).toBe(502)
    expect(error.code).toBe("upstream_invalid_response")
    expect(error.message).toContain("application/json")
    expect(record.errorType).toBe("UpstreamProtocolError")
  })

  it("ends a stream at an event that is not JSON", async () => {
    const recorded = fixtureText(TEXT_STREAM).split("\n\n")
    const broken = [...recorded.slice(0, 2), "data: {not json", ...recorded.slice(2)].join("\n\n")
    harness.upstream.enqueue({ status: 200, headers: { "content-type": "text/event-stream" }, body: broken })

    const { text, error, requestId } = await streamUntilError("gpt-4o-mini")
    const record = await waitForRecord(harness.gateway, requestId)

    expect(text).toBe("The")
    expect(error.code).toBe("upstream_invalid_response")
    expect(error.type).toBe("upstream_error")
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamProtocolError")
  })
})

describe("requests Fluxen rejects", () => {
  it("rejects an unknown model with 404", async () => {
    const before = harness.upstream.requests.length

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-9-imaginary", messages: hello })
    const body = await readOpenAIError(response)

    expect(response.status).toBe(404)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("model_not_found")
    expect(body.error.param).toBe("model")
    expect(body.error.message).toContain("'gpt-9-imaginary'")
    expect(harness.upstream.requests).toHaveLength(before)
    // No provider was called, so the request cost nothing.
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))
    expect(record.costUsd).toBe(0)
  })

  it("unknown model stream: recorded as streamed", async () => {
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-9-imaginary", messages: hello, stream: true })
    await response.arrayBuffer()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(response.status).toBe(404)
    expect(record.stream).toBe(true)
  })

  it("gives the OpenAI client a NotFoundError for an unknown model", async () => {
    const error = await captureApiError(() => harness.client.chat.completions.create({ model: "gpt-9-imaginary", messages: hello }))

    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect(error.code).toBe("model_not_found")
  })

  it("rejects malformed JSON with 400", async () => {
    const response = await postJson(harness.gateway, "/v1/chat/completions", '{"model": "gpt-4o-mini", "messages": [')
    const body = await readOpenAIError(response)

    expect(response.status).toBe(400)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("invalid_json")
    expect(body.error.param).toBeNull()
  })

  it.each([
    ["missing messages", { model: "gpt-4o-mini" }, "messages"],
    ["temperature 5", { model: "gpt-4o-mini", messages: hello, temperature: 5 }, "temperature"],
    ["role robot", { model: "gpt-4o-mini", messages: [{ role: "robot", content: "Beep" }] }, "messages[0].role"]
  ])("rejects %s with 400 naming the field", async (_case, request, param) => {
    const before = harness.upstream.requests.length

    const response = await postJson(harness.gateway, "/v1/chat/completions", request)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(400)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("invalid_value")
    expect(body.error.param).toBe(param)
    expect(body.error.message).toContain(`'${param}'`)
    expect(harness.upstream.requests).toHaveLength(before)
  })

  it("records a rejected request", async () => {
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello, temperature: 5 })
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(400)
    expect(record.errorType).toBe("InvalidRequestError")
    expect(record.requestedModel).toBe("gpt-4o-mini")
    expect(record.resolvedModel).toBeNull()
  })

  it("answers an unsupported route with 404", async () => {
    const response = await postJson(harness.gateway, "/v1/audio/speech", { model: "tts-1", input: "Hello", voice: "alloy" })
    const body = await readOpenAIError(response)

    expect(response.status).toBe(404)
    expect(body.error.code).toBe("not_found")
    expect(body.error.message).toBe("Unknown route POST /v1/audio/speech.")
  })

  it("answers GET on a proxied route with 405", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/chat/completions`)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("method_not_allowed")
  })
})

describe("request body limit", () => {
  let limited: Harness

  beforeAll(async () => {
    limited = await startHarness({ pluginsYaml: NO_PLUGINS, server: { bodyLimit: "1 KiB" } })
  })

  afterAll(async () => {
    await limited?.close()
  })

  it("rejects a body over the limit with 413", async () => {
    const response = await postJson(limited.gateway, "/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "x".repeat(2000) }]
    })
    const body = await readOpenAIError(response)

    expect(response.status).toBe(413)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("request_too_large")
    expect(body.error.message).toContain("1024 bytes")
    expect(limited.upstream.requests).toHaveLength(0)
  })

  it("rejects a chunked body over the limit with 413", async () => {
    const payload = new TextEncoder().encode(
      JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x".repeat(2000) }] })
    )
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let start = 0; start < payload.length; start += 256) controller.enqueue(payload.subarray(start, start + 256))
        controller.close()
      }
    })

    const response = await fetch(`${limited.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunks,
      duplex: "half"
    } as RequestInit)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(413)
    expect(body.error.code).toBe("request_too_large")
  })

  it("accepts a body just under the limit", async () => {
    limited.upstream.enqueue({ fixture: TEXT })
    const request = { model: "gpt-4o-mini", messages: [{ role: "user", content: "" }] }
    const padding = 1024 - Buffer.byteLength(JSON.stringify(request))
    request.messages[0]!.content = "x".repeat(padding)

    const response = await postJson(limited.gateway, "/v1/chat/completions", request)

    expect(Buffer.byteLength(JSON.stringify(request))).toBe(1024)
    expect(response.status).toBe(200)
    await response.arrayBuffer()
  })
})

describe("a response header Node refuses", () => {
  let invalid: Harness
  // The test gateway imports plugins by file path; tsc compiles the plugin into test/dist.
  const pluginPath = fileURLToPath(new URL("../../dist/support/invalidHeaderPlugin.js", import.meta.url))

  beforeAll(async () => {
    invalid = await startHarness({ pluginsYaml: `plugins:\n  - use: ${JSON.stringify(pluginPath)}\n` })
  })

  afterAll(async () => {
    await invalid?.close()
  })

  it("answers 500 and keeps serving", async () => {
    invalid.upstream.enqueue({ fixture: TEXT })
    invalid.upstream.enqueue({ fixture: TEXT })

    const first = await postJson(invalid.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    const firstBody = await readOpenAIError(first)
    const record = await waitForRecord(invalid.gateway, requestIdOf(first.headers))
    const second = await postJson(invalid.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })

    expect(first.status).toBe(500)
    expect(firstBody.error.type).toBe("server_error")
    expect(first.headers.get(INVALID_HEADER_NAME)).toBeNull()
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(500)
    expect(second.status).toBe(500)
    await second.arrayBuffer()
  })
})

describe("unreachable upstream", () => {
  let gateway: TestGateway

  beforeAll(async () => {
    // A port that was just free and is now closed refuses connections.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
    gateway = await startTestGateway({ upstreamUrl: `http://127.0.0.1:${port}`, pluginsYaml: NO_PLUGINS })
  })

  afterAll(async () => {
    await gateway?.close()
  })

  it("answers 502 when the connection is refused", async () => {
    const response = await postJson(gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    const body = await readOpenAIError(response)
    const record = await waitForRecord(gateway, requestIdOf(response.headers))

    expect(response.status).toBe(502)
    expect(body.error.type).toBe("upstream_error")
    expect(body.error.code).toBe("upstream_unreachable")
    expect(body.error.message).toBe("The upstream provider 'openai' is unreachable: the connection was refused")
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(502)
    expect(record.errorType).toBe("UpstreamUnreachableError")
  })

  it("answers a stream request with 502 before any event", async () => {
    const error = await captureApiError(() =>
      makeClient(gateway).chat.completions.create({ model: "gpt-4o-mini", messages: hello, stream: true })
    )

    expect(error).toBeInstanceOf(OpenAI.InternalServerError)
    expect(error.status).toBe(502)
    expect(error.code).toBe("upstream_unreachable")
  })
})

describe("silent upstream", () => {
  it("answers 504 when the headers do not come within the idle timeout", async () => {
    harness.upstream.enqueue({ fixture: TEXT, delayBeforeHeadersMs: 3000 })
    const index = harness.upstream.requests.length
    const started = performance.now()

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: IDLE_MODEL, messages: hello })
    const elapsedMs = performance.now() - started
    const body = await readOpenAIError(response)
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(response.status).toBe(504)
    expect(body.error.type).toBe("upstream_error")
    expect(body.error.code).toBe("upstream_timeout")
    expect(body.error.message).toBe("The upstream provider 'openai' sent nothing for 300 ms while waiting for the headers.")
    // undici checks its timeouts on a tick of about half a second, so 300 ms fires after 0.5 to 1 s.
    expect(elapsedMs).toBeLessThan(2500)
    await expect(harness.upstream.waitForAbort(index, 1000)).resolves.toBeUndefined()
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(504)
    expect(record.errorType).toBe("UpstreamTimeoutError")
  })

  it("answers 504 when a stream sends headers and no event", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM, hangAfterWrites: 0 })

    const error = await captureApiError(() =>
      harness.client.chat.completions.create({ model: IDLE_MODEL, messages: hello, stream: true })
    )

    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.status).toBe(504)
    expect(error.code).toBe("upstream_timeout")
  })

  it("ends a stream that goes silent with an error event", async () => {
    // Three events reach the client: the role chunk, "The" and " capital".
    harness.upstream.enqueue({ fixture: TEXT_STREAM, hangAfterWrites: 3 })
    const index = harness.upstream.requests.length

    const { text, error, requestId } = await streamUntilError(IDLE_MODEL)
    const record = await waitForRecord(harness.gateway, requestId)

    expect(text).toBe("The capital")
    expect(error.status).toBeUndefined()
    expect(error.code).toBe("upstream_timeout")
    expect(error.type).toBe("upstream_error")
    expect((error.error as { message: string }).message).toBe(
      "The upstream provider 'openai' sent nothing for 300 ms while waiting for the body."
    )
    await expect(harness.upstream.waitForAbort(index, 1000)).resolves.toBeUndefined()
    expect(record.status).toBe("error")
    expect(record.stream).toBe(true)
    // The client received status 200 before the stream failed.
    expect(record.httpStatus).toBe(200)
    expect(record.errorType).toBe("UpstreamTimeoutError")
  })
})

describe("upstream dying mid-stream", () => {
  it("raises an error in the OpenAI client", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM, stopAfterWrites: 3 })

    const { text, error, requestId } = await streamUntilError("gpt-4o-mini")
    const record = await waitForRecord(harness.gateway, requestId)

    expect(text).toBe("The capital")
    expect(error.code).toBe("upstream_unreachable")
    expect((error.error as { message: string }).message).toBe(
      "The upstream provider 'openai' is unreachable: the connection closed before the response completed"
    )
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(200)
    expect(record.errorType).toBe("UpstreamUnreachableError")
  })

  it("ends the raw stream with an error event and no [DONE]", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM, stopAfterWrites: 3 })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello, stream: true })
    const text = await response.text()
    const events = text.split("\n\n").filter((event) => event !== "")

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    expect(events).toHaveLength(4)
    expect(text).not.toContain("[DONE]")
    expect(events[3]!.startsWith("data: ")).toBe(true)
    const last = parseOpenAIError(events[3]!.slice("data: ".length))
    expect(last.error.code).toBe("upstream_unreachable")
    expect(last.error.type).toBe("upstream_error")
  })
})

describe("request id header", () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

  it("is set on a JSON success", async () => {
    harness.upstream.enqueue({ fixture: TEXT })
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello })
    await response.arrayBuffer()

    expect(response.status).toBe(200)
    expect(response.headers.get("x-fluxen-request-id")).toMatch(uuid)
  })

  it("is set on an error", async () => {
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-9-imaginary", messages: hello })
    await response.arrayBuffer()

    expect(response.status).toBe(404)
    expect(response.headers.get("x-fluxen-request-id")).toMatch(uuid)
  })

  it("is set on a stream", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM })
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello, stream: true })
    await response.arrayBuffer()

    expect(response.status).toBe(200)
    expect(response.headers.get("x-fluxen-request-id")).toMatch(uuid)
  })

  it("is set on GET /v1/models", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models`)
    await response.arrayBuffer()

    expect(response.status).toBe(200)
    expect(response.headers.get("x-fluxen-request-id")).toMatch(uuid)
  })

  it("OpenAI SDK reads it as _request_id", async () => {
    harness.upstream.enqueue({ fixture: TEXT })
    const { data, response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: hello }).withResponse()

    expect(data._request_id).toMatch(uuid)
    expect(data._request_id).toBe(response.headers.get("x-fluxen-request-id"))
  })

  it("OpenAI SDK errors carry it", async () => {
    const error = await captureApiError(() => harness.client.chat.completions.create({ model: "gpt-9-imaginary", messages: hello }))

    expect(error.requestID).toMatch(uuid)
  })

  it("streams carry x-request-id", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM })
    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: hello, stream: true })
    await response.arrayBuffer()

    expect(response.headers.get("x-request-id")).toBe(response.headers.get("x-fluxen-request-id"))
  })

  it("model list carries x-request-id", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models`)
    await response.arrayBuffer()

    expect(response.headers.get("x-request-id")).toBe(response.headers.get("x-fluxen-request-id"))
  })

  it("differs between requests", async () => {
    const first = await fetch(`${harness.gateway.url}/v1/models`)
    const second = await fetch(`${harness.gateway.url}/v1/models`)
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()])

    expect(first.headers.get("x-fluxen-request-id")).not.toBe(second.headers.get("x-fluxen-request-id"))
  })
})
