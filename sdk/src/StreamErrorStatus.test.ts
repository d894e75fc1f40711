import { describe, expect, it } from "vitest"
import { streamErrorStatus } from "./StreamErrorStatus.js"

describe("streamErrorStatus", () => {
  const cases: ReadonlyArray<readonly [string, unknown, number]> = [
    ["numeric code", { code: 429, message: "Provider returned error" }, 429],
    ["numeric code over type", { code: 400, type: "server_error" }, 400],
    ["Anthropic overloaded type", { type: "overloaded_error", message: "Overloaded" }, 529],
    ["Anthropic rate limit type", { type: "rate_limit_error" }, 429],
    ["Anthropic invalid request type", { type: "invalid_request_error" }, 400],
    ["Anthropic api error type", { type: "api_error" }, 500],
    ["OpenAI rate limit code", { type: "requests", code: "rate_limit_exceeded" }, 429],
    ["OpenAI quota type", { type: "insufficient_quota", code: "insufficient_quota" }, 429],
    ["OpenAI server error", { type: "server_error", code: null }, 500],
    ["type before string code", { type: "invalid_request_error", code: "rate_limit_exceeded" }, 400],
    ["numeric code out of range", { code: 200, type: "rate_limit_error" }, 429],
    ["digits as string", { code: "429" }, 500],
    ["unknown type", { type: "BadGatewayError" }, 500],
    ["inherited name", { type: "constructor" }, 500],
    ["empty object", {}, 500],
    ["text", "Overloaded", 500],
    ["missing", undefined, 500]
  ]

  for (const [name, error, status] of cases) {
    it(name, () => {
      expect(streamErrorStatus(error)).toBe(status)
    })
  }
})
