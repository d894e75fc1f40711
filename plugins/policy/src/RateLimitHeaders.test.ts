import { describe, expect, it } from "@effect/vitest"
import type { ApplicableRate } from "./Limits.js"
import { formatReset, refusalHeaders, writeRateLimitHeaders } from "./RateLimitHeaders.js"

describe("formatReset", () => {
  it("formats like OpenAI's reset headers", () => {
    expect(formatReset(0)).toBe("0ms")
    expect(formatReset(19.2)).toBe("20ms")
    expect(formatReset(1_500)).toBe("1.5s")
    expect(formatReset(6_000)).toBe("6s")
    expect(formatReset(60_000)).toBe("1m0s")
  })
})

describe("writeRateLimitHeaders", () => {
  it("reports the tightest limit per unit", () => {
    const rates: ReadonlyArray<ApplicableRate> = [
      { scope: "key", name: "k", unit: "requests", perMinute: 100 },
      { scope: "team", name: "t", unit: "requests", perMinute: 10 },
      { scope: "key", name: "k", unit: "tokens", perMinute: 5_000 }
    ]
    const headers: Record<string, string> = {}

    writeRateLimitHeaders(headers, rates, [
      { remaining: 99, resetMs: 600 },
      { remaining: 3, resetMs: 42_000 },
      { remaining: 4_000, resetMs: 12_000 }
    ])

    expect(headers).toEqual({
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "3",
      "x-ratelimit-reset-requests": "42s",
      "x-ratelimit-limit-tokens": "5000",
      "x-ratelimit-remaining-tokens": "4000",
      "x-ratelimit-reset-tokens": "12s"
    })
  })

  it("adds Anthropic's names when asked", () => {
    const rates: ReadonlyArray<ApplicableRate> = [{ scope: "key", name: "k", unit: "requests", perMinute: 10 }]
    const headers: Record<string, string> = {}

    writeRateLimitHeaders(headers, rates, [{ remaining: 3, resetMs: 42_000 }], Date.parse("2026-12-05T12:00:00Z"))

    expect(headers["x-ratelimit-remaining-requests"]).toBe("3")
    expect(headers["anthropic-ratelimit-requests-limit"]).toBe("10")
    expect(headers["anthropic-ratelimit-requests-remaining"]).toBe("3")
    expect(headers["anthropic-ratelimit-requests-reset"]).toBe("2026-12-05T12:00:42.000Z")
  })
})

describe("refusalHeaders", () => {
  it("gives OpenAI's names alone by default", () => {
    const rate: ApplicableRate = { scope: "key", name: "k", unit: "tokens", perMinute: 500 }

    expect(refusalHeaders(rate, 1_500)).toEqual({
      "x-ratelimit-limit-tokens": "500",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "1.5s"
    })
  })
})
