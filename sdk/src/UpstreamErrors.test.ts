import { describe, expect, it } from "vitest"
import { makeUpstreamHttpError, pickUpstreamHeaders, redact, upstreamErrorFromEvent, type UpstreamErrorFields } from "./UpstreamErrors.js"

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
