import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker } from "./CircuitBreaker.js"

const options = { failureThreshold: 3, initialOpenMs: 500, maxOpenMs: 2_000 }

/** Fails `count` normal commands at time `nowMs`. */
const failNormal = (breaker: CircuitBreaker, count: number, nowMs: number) => {
  for (let i = 0; i < count; i++) breaker.failed(breaker.acquire(nowMs), nowMs)
}

describe("CircuitBreaker", () => {
  it("opens after consecutive failures", () => {
    const breaker = new CircuitBreaker(options)

    failNormal(breaker, 2, 0)
    expect(breaker.state).toBe("closed")
    expect(breaker.failed("normal", 0)).toBe("opened")
    expect(breaker.state).toBe("open")
    expect(breaker.acquire(499)).toBe("skip")
  })

  it("success resets the failure count", () => {
    const breaker = new CircuitBreaker(options)

    failNormal(breaker, 2, 0)
    breaker.succeeded(breaker.acquire(0))
    failNormal(breaker, 2, 0)

    expect(breaker.state).toBe("closed")
  })

  it("sends one probe after the interval", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.acquire(500)).toBe("probe")
    expect(breaker.state).toBe("half-open")
    expect(breaker.acquire(501)).toBe("skip")
  })

  it("successful probe closes the breaker", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.succeeded(breaker.acquire(500))).toBe("closed")
    expect(breaker.state).toBe("closed")
    expect(breaker.acquire(501)).toBe("normal")
    expect(breaker.currentOpenMs).toBe(500)
  })

  it("failed probes double the interval", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.failed(breaker.acquire(500), 500)).toBeUndefined()
    expect(breaker.acquire(1_499)).toBe("skip")
    expect(breaker.acquire(1_500)).toBe("probe")
    breaker.failed("probe", 1_500)
    expect(breaker.currentOpenMs).toBe(2_000)
    breaker.failed(breaker.acquire(3_500), 3_500)
    expect(breaker.currentOpenMs).toBe(2_000)
  })

  it("late results leave it open", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.succeeded("normal")).toBeUndefined()
    expect(breaker.failed("normal", 100)).toBeUndefined()
    expect(breaker.state).toBe("open")
    expect(breaker.acquire(500)).toBe("probe")
  })
})
