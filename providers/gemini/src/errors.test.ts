import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { geminiHttpError, promptBlockedError, retryAfterSeconds } from "./errors.js"

describe("retryAfterSeconds", () => {
  const cases: ReadonlyArray<readonly [unknown, number | undefined]> = [
    ["34.4s", 35],
    ["34s", 34],
    ["0.000000001s", 1],
    ["0s", 0],
    ["1.5", undefined],
    ["-3s", undefined],
    ["34.4 s", undefined],
    [34, undefined],
    [undefined, undefined]
  ]
  for (const [delay, expected] of cases) {
    it(`${JSON.stringify(delay)}`, () => {
      expect(retryAfterSeconds(delay)).toBe(expected)
    })
  }
})

describe("geminiHttpError", () => {
  const body = (error: object): string => JSON.stringify({ error })

  it("google.rpc fields", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-internal": "no" },
      bodyText: body({
        code: 403,
        message: "Permission denied.",
        status: "PERMISSION_DENIED",
        details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "SERVICE_DISABLED", metadata: { consumer: "projects/1" } }]
      })
    })
    expect(error.status).toBe(403)
    expect(error.error).toEqual({ message: "Permission denied.", type: "PERMISSION_DENIED", param: null, code: "SERVICE_DISABLED" })
    expect(error.headers).toEqual({ "x-ratelimit-remaining": "0" })
    expect(JSON.stringify(error)).not.toContain("projects/1")
  })

  it("array envelope", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 500,
      headers: {},
      bodyText: JSON.stringify([{ error: { code: 500, message: "Internal error.", status: "INTERNAL" } }])
    })
    expect(error.error.type).toBe("INTERNAL")
  })

  it("429 without RetryInfo", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 429,
      headers: {},
      bodyText: body({ code: 429, message: "Slow down.", status: "RESOURCE_EXHAUSTED" })
    })
    expect(error.headers).toEqual({})
  })

  it("retry-after only for 429", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 503,
      headers: {},
      bodyText: body({ code: 503, message: "Busy.", status: "UNAVAILABLE", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "2s" }] })
    })
    expect(error.headers).toEqual({})
  })

  it("key removed from message", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 400,
      headers: {},
      bodyText: body({ message: "Bad key sk-secret-1 given; sk-secret-1 again.", status: "INVALID_ARGUMENT" }),
      apiKey: Redacted.make("sk-secret-1")
    })
    expect(error.error.message).toBe("Bad key [redacted] given; [redacted] again.")
  })

  it("key removed from other shapes", () => {
    const error = geminiHttpError({
      provider: "gemini",
      status: 403,
      headers: {},
      bodyText: JSON.stringify({ error: "Key sk-secret-2 is suspended." }),
      apiKey: Redacted.make("sk-secret-2")
    })
    expect(error.error.message).toBe("Key [redacted] is suspended.")
  })

  it("other shapes use the generic reader", () => {
    const error = geminiHttpError({ provider: "gemini", status: 404, headers: {}, bodyText: "Not Found" })
    expect(error.error).toMatchObject({ message: "The upstream returned HTTP 404.", type: "not_found_error" })
  })
})

describe("promptBlockedError", () => {
  it("names the reason", () => {
    expect(promptBlockedError("BLOCKLIST")).toMatchObject({ code: "content_filter", param: "messages" })
    expect(promptBlockedError("BLOCKLIST").message).toContain("block reason: BLOCKLIST")
  })

  it("hides a reason that is not an enum name", () => {
    expect(promptBlockedError("<script>").message).toContain("block reason: unknown")
  })
})
