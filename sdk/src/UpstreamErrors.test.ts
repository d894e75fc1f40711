import { describe, expect, it } from "vitest"
import { makeUpstreamHttpError, pickUpstreamHeaders, redact, type UpstreamErrorFields } from "./UpstreamErrors.js"

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
