import { describe, expect, it } from "@effect/vitest"
import { InvalidRequestError, UpstreamHttpError, UpstreamTimeoutError, UpstreamUnreachableError } from "@fluxen/sdk"
import { isRetryable, retryAfterMs, retryDelayMs } from "./retryPolicy.js"

const httpError = (status: number, headers: Record<string, string> = {}) =>
  new UpstreamHttpError({ provider: "p", status, error: { message: "x", type: null, param: null, code: null }, headers })

const policy = { attempts: 3, initialDelay: 100, maxDelay: 2_000 }

describe("retryPolicy", () => {
  it("classifies retryable failures", () => {
    const cases: Array<[string, boolean]> = [
      ["429", isRetryable(httpError(429))],
      ["500", isRetryable(httpError(500))],
      ["503", isRetryable(httpError(503))],
      ["529", isRetryable(httpError(529))],
      ["400", isRetryable(httpError(400))],
      ["401", isRetryable(httpError(401))],
      ["404", isRetryable(httpError(404))],
      ["timeout", isRetryable(new UpstreamTimeoutError({ provider: "p", phase: "headers", timeoutMs: 1 }))],
      ["refused", isRetryable(new UpstreamUnreachableError({ provider: "p", reason: "refused" }))],
      ["invalid", isRetryable(new InvalidRequestError({ message: "bad" }))]
    ]
    expect(Object.fromEntries(cases)).toEqual({
      "429": true, "500": true, "503": true, "529": true, "400": false, "401": false, "404": false,
      timeout: true, refused: true, invalid: false
    })
  })

  it("reads retry-after in seconds, milliseconds and as a date", () => {
    const now = Date.parse("2026-12-04T12:00:00Z")
    expect(retryAfterMs(httpError(429, { "retry-after": "2" }), now)).toBe(2_000)
    expect(retryAfterMs(httpError(429, { "retry-after-ms": "350" }), now)).toBe(350)
    expect(retryAfterMs(httpError(429, { "retry-after": "Fri, 04 Dec 2026 12:00:05 GMT" }), now)).toBe(5_000)
    expect(retryAfterMs(httpError(429, { "retry-after": "soon" }), now)).toBeUndefined()
    expect(retryAfterMs(httpError(429), now)).toBeUndefined()
  })

  it("waits as the upstream asks, within the maximum", () => {
    expect(retryDelayMs(httpError(429, { "retry-after": "1" }), 0, policy, 0)).toBe(1_000)
    expect(retryDelayMs(httpError(429, { "retry-after": "3" }), 0, policy, 0)).toBeUndefined()
  })

  it("backs off exponentially with full jitter", () => {
    const highest = () => 0.999999
    expect(retryDelayMs(httpError(503), 0, policy, 0, highest)).toBe(99)
    expect(retryDelayMs(httpError(503), 1, policy, 0, highest)).toBe(199)
    expect(retryDelayMs(httpError(503), 2, policy, 0, highest)).toBe(399)
    expect(retryDelayMs(httpError(503), 10, policy, 0, highest)).toBe(1_999)
    expect(retryDelayMs(httpError(503), 3, policy, 0, () => 0)).toBe(0)
  })
})
