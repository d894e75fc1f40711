import { describe, expect, it } from "vitest"
import { responsesStreamError } from "./ResponsesStreamError.js"

const errorOf = (event: string | undefined, payload: unknown) =>
  responsesStreamError("openai", {}, event === undefined ? { data: JSON.stringify(payload) } : { event, data: JSON.stringify(payload) }, payload)

describe("responsesStreamError", () => {
  it("ordinary events: undefined", () => {
    expect(errorOf("response.created", { type: "response.created", response: { id: "resp_1", status: "in_progress", error: null } })).toBeUndefined()
    expect(errorOf("response.output_text.delta", { type: "response.output_text.delta", delta: "error" })).toBeUndefined()
    expect(errorOf("response.completed", { type: "response.completed", response: { status: "completed", error: null } })).toBeUndefined()
    expect(errorOf(undefined, "error")).toBeUndefined()
  })

  it("error type without event name", () => {
    const error = errorOf(undefined, { type: "error", code: "server_error", message: "Failed.", param: null })

    expect(error?.status).toBe(500)
    expect(error?.error).toEqual({ message: "Failed.", type: "api_error", param: null, code: "server_error" })
  })

  it("event name error, no fields", () => {
    const error = errorOf("error", { sequence_number: 3 })

    expect(error?.status).toBe(500)
    expect(error?.error.message).toBe("The upstream reported that the response failed.")
  })

  it("failed event: upstream request id kept", () => {
    const error = responsesStreamError(
      "openai",
      { "x-request-id": "req_abc" },
      { event: "response.failed", data: "" },
      { type: "response.failed", response: { status: "failed", error: { code: "rate_limit_exceeded", message: "Slow down." } } }
    )

    expect(error?.status).toBe(429)
    expect(error?.streamEvent).toBe(true)
    expect(error?.headers).toEqual({ "x-fluxen-upstream-request-id": "req_abc" })
  })
})
