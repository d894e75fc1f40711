import { describe, expect, it } from "vitest"
import { anthropicErrorEventText, anthropicErrorType, toAnthropicErrorBody } from "./anthropicErrorResponse.js"
import type { ErrorResponse } from "./errorResponse.js"

const responseWith = (status: number): ErrorResponse => ({
  status,
  headers: {},
  body: { error: { message: `Failed with ${status}.`, type: "upstream_error", param: null, code: null } }
})

describe("anthropicErrorType", () => {
  it.each([
    [400, "invalid_request_error"],
    [401, "authentication_error"],
    [404, "not_found_error"],
    [409, "invalid_request_error"],
    [422, "invalid_request_error"],
    [499, "invalid_request_error"],
    [500, "api_error"],
    [502, "api_error"],
    [504, "timeout_error"],
    [529, "overloaded_error"]
  ])("maps status %i to %s", (status, type) => {
    expect(anthropicErrorType(status)).toBe(type)
  })
})

describe("toAnthropicErrorBody", () => {
  it("adds the request id", () => {
    const body = toAnthropicErrorBody(responseWith(409), "req-1")

    expect(body).toEqual({ type: "error", error: { type: "invalid_request_error", message: "Failed with 409." }, request_id: "req-1" })
  })
})

describe("anthropicErrorEventText", () => {
  it("sends only type and message", () => {
    const text = anthropicErrorEventText(responseWith(529))

    expect(text).toBe('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Failed with 529."}}\n\n')
  })
})
