import { describe, expect, it } from "vitest"
import {
  makeUpstreamHttpError,
  pickUpstreamHeaders,
  redact,
  reportsStreamError,
  upstreamErrorFromBody,
  upstreamErrorFromEvent,
  type UpstreamErrorFields
} from "./UpstreamErrors.js"

describe("pickUpstreamHeaders", () => {
  it("keeps rate limit headers", () => {
    const picked = pickUpstreamHeaders({ "retry-after": "2", "x-ratelimit-remaining-requests": "9", "content-type": "application/json" })

    expect(picked).toEqual({ "retry-after": "2", "x-ratelimit-remaining-requests": "9" })
  })

  it("renames OpenAI's request id", () => {
    expect(pickUpstreamHeaders({ "x-request-id": "req_openai" })).toEqual({ "x-fluxen-upstream-request-id": "req_openai" })
  })

  it("renames Anthropic's request id", () => {
    expect(pickUpstreamHeaders({ "request-id": "req_anthropic" })).toEqual({ "x-fluxen-upstream-request-id": "req_anthropic" })
  })
})

describe("redact", () => {
  it("removes a quoted key", () => {
    expect(redact("bad key sk-live-123456", ["sk-live-123456"])).toBe("bad key [redacted]")
  })

  it("removes a key the provider masked", () => {
    const message = "Incorrect API key provided: bad-key-**********test. You can find your API key at https://example.test."
    expect(redact(message, [])).toBe("Incorrect API key provided: [redacted]. You can find your API key at https://example.test.")
  })
})

describe("makeUpstreamHttpError", () => {
  const makeError = (fields: Partial<UpstreamErrorFields>) =>
    makeUpstreamHttpError({ provider: "acme", status: 400, headers: {}, message: "Bad request.", ...fields })

  it("redacts secrets in the message", () => {
    const error = makeError({ message: "key sk-acme-4f9a2c is not valid", secrets: ["sk-acme-4f9a2c"] })

    expect(error.error.message).toBe("key [redacted] is not valid")
  })

  it("keeps the given error type", () => {
    expect(makeError({ status: 402, type: "insufficient_quota" }).error.type).toBe("insufficient_quota")
  })

  it("derives the type from the status", () => {
    expect(makeError({ status: 429 }).error.type).toBe("rate_limit_error")
  })

  it("keeps only client headers", () => {
    const error = makeError({ headers: { "retry-after": "3", "set-cookie": "session=1" } })

    expect(error.headers).toEqual({ "retry-after": "3" })
  })

  it("sets status, provider and null fields", () => {
    const error = makeError({ status: 503, message: "Overloaded." })

    expect(error.status).toBe(503)
    expect(error.provider).toBe("acme")
    expect(error.error.param).toBeNull()
    expect(error.error.code).toBeNull()
  })
})

describe("upstreamErrorFromEvent", () => {
  const serverError = '{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}'

  it("server error: status 500", () => {
    const error = upstreamErrorFromEvent("acme", { "x-request-id": "req_1" }, serverError)

    expect(error.status).toBe(500)
    expect(error.streamEvent).toBe(true)
    expect(error.error).toEqual({ message: "The server had an error while processing your request.", type: "server_error", param: null, code: null })
    expect(error.headers).toEqual({ "x-fluxen-upstream-request-id": "req_1" })
  })

  it("numeric code becomes the status", () => {
    const error = upstreamErrorFromEvent("acme", {}, '{"error":{"code":429,"message":"Provider returned error"}}')

    expect(error.status).toBe(429)
    expect(error.error.type).toBe("rate_limit_error")
    expect(error.error.code).toBe(429)
  })

  it("type names the status", () => {
    const error = upstreamErrorFromEvent("acme", {}, '{"error":{"type":"overloaded_error","message":"Overloaded"}}')

    expect(error.status).toBe(529)
    expect(error.error.type).toBe("overloaded_error")
  })

  it("string code names the status", () => {
    const error = upstreamErrorFromEvent("acme", {}, '{"error":{"type":"requests","code":"rate_limit_exceeded","message":"Rate limit reached."}}')

    expect(error.status).toBe(429)
    expect(error.error.code).toBe("rate_limit_exceeded")
  })

  it("code outside error statuses: 500", () => {
    for (const code of [200, 600, 429.5, "429"]) {
      expect(upstreamErrorFromEvent("acme", {}, JSON.stringify({ error: { code, message: "Failed." } })).status, `code ${JSON.stringify(code)}`).toBe(500)
    }
  })

  it("message missing: names the stream", () => {
    const error = upstreamErrorFromEvent("acme", {}, '{"error":{}}')

    expect(error.error.message).toBe("The upstream reported an error in the stream.")
    expect(error.message).toBe("acme sent an error event in the stream (type api_error): The upstream reported an error in the stream.")
  })

  it("redacts secrets in the message", () => {
    const error = upstreamErrorFromEvent("acme", {}, '{"error":{"message":"key sk-acme-4f9a2c failed"}}', ["sk-acme-4f9a2c"])

    expect(error.error.message).toBe("key [redacted] failed")
  })
})

describe("reportsStreamError", () => {
  const cases: ReadonlyArray<readonly [string, unknown, boolean]> = [
    ["error envelope", { error: { message: "Overloaded" } }, true],
    ["null error without choices", { error: null }, true],
    ["error beside choices", { error: { code: 502, message: "lost" }, choices: [{ index: 0, delta: {}, finish_reason: "error" }] }, true],
    ["error beside choices without finish", { error: { message: "lost" }, choices: [] }, true],
    ["error finish reason", { choices: [{ index: 0, delta: {}, finish_reason: "error" }] }, true],
    ["error finish in second choice", { choices: [{ index: 0, finish_reason: "stop" }, { index: 1, finish_reason: "error" }] }, true],
    ["vLLM flat error", { object: "error", message: "Bad request", type: "BadRequestError", code: 400 }, true],
    ["stop chunk", { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }, false],
    ["null error beside choices", { choices: [{ index: 0, delta: {}, finish_reason: "stop" }], error: null }, false],
    ["text chunk", { object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "error" }, finish_reason: null }] }, false],
    ["null choice", { choices: [null] }, false],
    ["not an object", "error", false],
    ["null", null, false]
  ]

  for (const [name, payload, expected] of cases) {
    it(name, () => {
      expect(reportsStreamError(payload)).toBe(expected)
    })
  }
})

describe("vLLM flat error shape", () => {
  const flat = '{"object":"error","message":"This model\'s maximum context length is 2048 tokens.","type":"BadRequestError","param":null,"code":400}'

  it("HTTP body: fields read", () => {
    const error = upstreamErrorFromBody("vllm", 400, {}, flat)

    expect(error.error).toEqual({ message: "This model's maximum context length is 2048 tokens.", type: "BadRequestError", param: null, code: 400 })
  })

  it("stream event: code becomes status", () => {
    const error = upstreamErrorFromEvent("vllm", {}, flat)

    expect(error.status).toBe(400)
    expect(error.streamEvent).toBe(true)
    expect(error.error.message).toBe("This model's maximum context length is 2048 tokens.")
  })

  it("other object values: not read", () => {
    const error = upstreamErrorFromBody("vllm", 400, {}, '{"object":"list","message":"not an error"}')

    expect(error.error.message).toBe("The upstream returned HTTP 400.")
  })
})
