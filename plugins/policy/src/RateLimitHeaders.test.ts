import { describe, expect, it } from "@effect/vitest"
import type { ApplicableRate } from "./Limits.js"
import { formatReset, writeRateLimitHeaders } from "./RateLimitHeaders.js"

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
})
