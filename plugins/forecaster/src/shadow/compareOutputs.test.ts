import { describe, expect, it } from "vitest"
import { outputText, compareOutputs, jaccardSimilarity, normalizeOutput } from "./compareOutputs.js"

describe("compareOutputs", () => {
  it.each([
    ["Positive.", "positive"],
    ['"Negative"', "negative"],
    ["  Category:   billing ", "category: billing"],
    ["ＹＥＳ", "yes"]
  ])("matches %j and %j exactly", (original, candidate) => {
    expect(compareOutputs(original, candidate)).toEqual({ method: "exact", score: 1 })
  })

  it("scores a different short output 0", () => {
    expect(compareOutputs("positive", "negative")).toEqual({ method: "exact", score: 0 })
  })

  it("scores a long output by Jaccard", () => {
    const original = "the cat sat on the mat and looked at the dog for a while"
    // 12 distinct words against 10, of which 8 are shared: 8 / (12 + 10 - 8).
    const candidate = "the cat sat on the rug and looked at a bird"

    expect(compareOutputs(original, candidate)).toEqual({ method: "jaccard", score: 8 / 14 })
  })

  it("counts a paraphrase as different", () => {
    const comparison = compareOutputs(
      "Paris is the capital and the largest city of France by population",
      "France's seat of government is in Paris, its most populous town"
    )

    expect(comparison.method).toBe("jaccard")
    expect(comparison.score).toBeLessThan(0.3)
  })
})

describe("jaccardSimilarity", () => {
  it("treats two empty sets as identical", () => {
    expect(jaccardSimilarity(new Set(), new Set())).toBe(1)
  })

  it("scores disjoint sets 0", () => {
    expect(jaccardSimilarity(new Set(["a"]), new Set(["b"]))).toBe(0)
  })
})

describe("normalizeOutput", () => {
  it("keeps inner punctuation", () => {
    expect(normalizeOutput("3.14!")).toBe("3.14")
  })
})

describe("outputText", () => {
  it("reads the first choice's text", () => {
    expect(outputText({ choices: [{ message: { content: "hello" } }, { message: { content: "other" } }] })).toBe("hello")
  })

  it("joins text parts", () => {
    expect(outputText({ choices: [{ message: { content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] } }] })).toBe("ab")
  })

  it("writes tool calls as name(arguments)", () => {
    const body = {
      choices: [{ message: { content: null, tool_calls: [{ function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] } }]
    }

    expect(outputText(body)).toBe('get_weather({"city":"Paris"})')
  })

  it.each([undefined, null, {}, { choices: [] }, { choices: [{}] }])("returns undefined for %j", (body) => {
    expect(outputText(body)).toBeUndefined()
  })
})
