import { describe, expect, it } from "vitest"
import { pickUpstreamHeaders, redact } from "./UpstreamErrors.js"

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
