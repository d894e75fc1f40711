import { describe, expect, it } from "vitest"
import { streamedUpstreamError, upstreamErrorFromAnthropic } from "./errors.js"

describe("upstreamErrorFromAnthropic", () => {
  it("maps type and status", () => {
    const body = JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })

    const error = upstreamErrorFromAnthropic("anthropic", 529, {}, body)

    expect(error.status).toBe(529)
    expect(error.error).toMatchObject({ type: "overloaded_error", message: "Overloaded", code: null })
  })

  it("key removed from message", () => {
    const body = JSON.stringify({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key: sk-ant-secret-1" } })

    const error = upstreamErrorFromAnthropic("anthropic", 401, {}, body, ["sk-ant-secret-1"])

    expect(error.error.message).toBe("invalid x-api-key: [redacted]")
  })
})

describe("streamedUpstreamError", () => {
  it("message names the stream event", () => {
    const error = streamedUpstreamError("anthropic", { type: "overloaded_error", message: "Overloaded for sk-ant-secret-1" }, ["sk-ant-secret-1"])

    expect(error.status).toBe(529)
    expect(error.streamEvent).toBe(true)
    expect(error.message).toBe("anthropic sent an error event in the stream (type overloaded_error): Overloaded for [redacted]")
  })
})
