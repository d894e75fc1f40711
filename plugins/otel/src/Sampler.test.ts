import { describe, expect, it } from "vitest"
import { isSampled } from "./Sampler.js"
import type { ParentContext } from "./TraceContext.js"

const parent = (sampled: boolean): ParentContext => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  sampled,
  traceState: undefined
})

const failIfCalled = (): number => {
  throw new Error("The sampler drew a random number where the decision was already made.")
}

describe("isSampled", () => {
  it("follows sampled parent at ratio 0", () => {
    expect(isSampled(parent(true), 0, failIfCalled)).toBe(true)
  })

  it("follows unsampled parent at ratio 1", () => {
    expect(isSampled(parent(false), 1, failIfCalled)).toBe(false)
  })

  it("keeps every new trace at ratio 1", () => {
    expect(isSampled(undefined, 1, failIfCalled)).toBe(true)
  })

  it("drops every new trace at ratio 0", () => {
    expect(isSampled(undefined, 0, failIfCalled)).toBe(false)
  })

  it("keeps draws below the ratio", () => {
    expect(isSampled(undefined, 0.25, () => 0.2499)).toBe(true)
    expect(isSampled(undefined, 0.25, () => 0.25)).toBe(false)
  })

  it("keeps about the ratio of traces", () => {
    let state = 12345
    // A fixed linear congruential sequence, so the share is the same on every run.
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
      return state / 2_147_483_648
    }
    let sampledCount = 0
    for (let index = 0; index < 10_000; index++) if (isSampled(undefined, 0.1, random)) sampledCount++

    expect(sampledCount).toBeGreaterThan(900)
    expect(sampledCount).toBeLessThan(1_100)
  })
})
