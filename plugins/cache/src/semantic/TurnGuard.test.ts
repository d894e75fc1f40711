import { describe, expect, it } from "@effect/vitest"
import { guardOf, makeGuardCheck, negationsOf, numbersOf } from "./TurnGuard.js"

/** Checks whether `turn` may be served the response stored for `stored`. */
const passes = (stored: string, turn: string, wordOrder = true): boolean => makeGuardCheck(turn, wordOrder)(guardOf(stored, wordOrder))

describe("numbersOf", () => {
  it("keeps separators as written", () => {
    expect(numbersOf("Convert 1,000.50 USD at 0.92, not 1000")).toEqual(["1,000.50", "0.92", "1000"])
  })

  it("reads minus signs before numbers", () => {
    expect(numbersOf("from -5 to 5 on 2024-05-01")).toEqual(["-5", "5", "2024", "05", "01"])
  })

  it("finds digits inside words", () => {
    expect(numbersOf("order A48213 and model gpt-4o")).toEqual(["48213", "4"])
  })
})

describe("negationsOf", () => {
  it("counts contractions as not", () => {
    expect(negationsOf("I can't and I cannot, I won’t")).toEqual(["not", "not", "not"])
  })

  it("finds each negation word", () => {
    expect(negationsOf("No, never without it, not now")).toEqual(["never", "no", "not", "without"])
  })
})

describe("guard check", () => {
  it("rejects a changed number", () => {
    expect(passes("Refund order 48213 for the damaged blender", "Refund order 48219 for the damaged blender")).toBe(false)
  })

  it("rejects reordered numbers", () => {
    expect(passes("Move 3 boxes to shelf 7", "Move 7 boxes to shelf 3", false)).toBe(false)
  })

  it("rejects an added negation", () => {
    expect(passes("Is the service up?", "Is the service not up?", false)).toBe(false)
  })

  it("rejects a prefixed antonym", () => {
    expect(passes("Is it safe to mix these?", "Is it unsafe to mix these?")).toBe(false)
  })

  it("rejects a removed antonym prefix", () => {
    expect(passes("Is the input invalid?", "Is the input valid?")).toBe(false)
  })

  it("accepts into for to", () => {
    // "into" is not "in" before "to", in either direction.
    expect(passes("Translate this into French", "Translate this to French")).toBe(true)
    expect(passes("Translate this to French", "Translate this into French")).toBe(true)
  })

  it("rejects swapped words", () => {
    expect(passes("Should I buy or sell?", "Should I sell or buy?")).toBe(false)
  })

  it("ignores order without wordOrder", () => {
    expect(passes("Should I buy or sell?", "Should I sell or buy?", false)).toBe(true)
  })

  it("accepts inserted and replaced words", () => {
    expect(passes("How do I reverse a list in Python?", "How can I reverse the list in Python, please?")).toBe(true)
  })

  it("accepts contraction spelled out", () => {
    expect(passes("Why can't I log in?", "Why cannot I log in?")).toBe(true)
  })

  it("rejects a stored turn without guard", () => {
    expect(makeGuardCheck("How do I rotate an API key?", false)(undefined)).toBe(false)
  })

  it("rejects a stored turn without words", () => {
    expect(makeGuardCheck("How do I rotate an API key?", true)(guardOf("How do I rotate an API key?", false))).toBe(false)
  })
})
