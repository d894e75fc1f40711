import { describe, expect, it } from "vitest"
import { pickUpstreamHeaders } from "./UpstreamErrors.js"

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
