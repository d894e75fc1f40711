import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { dot } from "../testing/vectors.js"
import { lexicalNormalize, lexicalVector, makeLexicalEmbedder } from "./LexicalEmbedder.js"

const length = (vector: Float32Array) => Math.sqrt(dot(vector, vector))

describe("lexical embedder", () => {
  it("normalizes case, punctuation and spacing", () => {
    expect(lexicalNormalize("  What's the CAPITAL of France?!  ")).toBe("what s the capital of france")
    expect(lexicalNormalize("Ｆｕｌｌ－ｗｉｄｔｈ")).toBe("full width")
    expect(lexicalNormalize("?!...")).toBe("")
  })

  it("gives equal vectors to texts that differ in case and punctuation", () => {
    const a = lexicalVector("What is the capital of France?", 512)
    const b = lexicalVector("what is the capital of france", 512)

    expect(dot(a, b)).toBeCloseTo(1, 5)
  })

  it("returns unit vectors of the configured length", () => {
    for (const dimensions of [64, 512, 1_024]) {
      const vector = lexicalVector("How do I rotate an API key?", dimensions)
      expect(vector).toHaveLength(dimensions)
      expect(length(vector)).toBeCloseTo(1, 5)
    }
  })

  it("ranks a near duplicate above another question", () => {
    const question = lexicalVector("How do I reset my password?", 512)
    const nearDuplicate = lexicalVector("how can I reset my password", 512)
    const other = lexicalVector("Which regions host the service?", 512)

    expect(dot(question, nearDuplicate)).toBeGreaterThan(0.7)
    expect(dot(question, other)).toBeLessThan(0.3)
  })

  it("returns a zero vector for text without letters or digits", () => {
    const vector = lexicalVector("?!", 32)

    expect(Array.from(vector).every((value) => value === 0)).toBe(true)
  })

  it.effect("embeds a batch in order", () =>
    Effect.gen(function* () {
      const embedder = makeLexicalEmbedder({ dimensions: 128 })

      const vectors = yield* embedder.embed(["first question", "second question"])

      expect(embedder.id).toBe("lexical:v1:128")
      expect(vectors).toHaveLength(2)
      expect(vectors[0]).toEqual(lexicalVector("first question", 128))
      expect(vectors[1]).toEqual(lexicalVector("second question", 128))
    }))
})
