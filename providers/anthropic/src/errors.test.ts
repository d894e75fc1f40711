import { describe, expect, it } from "vitest"
import { upstreamErrorFromAnthropic } from "./errors.js"

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
