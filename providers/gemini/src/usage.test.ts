import { describe, expect, it } from "vitest"
import type { UsageMetadata } from "./GeminiTypes.js"
import { usageFromGemini } from "./usage.js"

const cases: ReadonlyArray<readonly [string, UsageMetadata | undefined, unknown]> = [
  ["absent", undefined, undefined],
  ["empty", {}, { promptTokens: 0, completionTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }],
  [
    "prompt only",
    { promptTokenCount: 15, totalTokenCount: 15 },
    { promptTokens: 15, completionTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
  ],
  [
    "thoughts added to completion",
    { promptTokenCount: 18, candidatesTokenCount: 80, thoughtsTokenCount: 35, totalTokenCount: 133 },
    { promptTokens: 18, completionTokens: 115, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 35 }
  ],
  [
    "cached tokens stay in the prompt",
    { promptTokenCount: 1200, cachedContentTokenCount: 1000, candidatesTokenCount: 10, totalTokenCount: 1210 },
    { promptTokens: 1200, completionTokens: 10, cachedInputTokens: 1000, cacheWriteTokens: 0, reasoningTokens: 0 }
  ],
  [
    "tool-use prompt tokens are input",
    { promptTokenCount: 20, toolUsePromptTokenCount: 300, candidatesTokenCount: 40, totalTokenCount: 360 },
    { promptTokens: 320, completionTokens: 40, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
  ]
]

describe("usageFromGemini", () => {
  for (const [name, metadata, expected] of cases) {
    it(name, () => {
      expect(usageFromGemini(metadata)).toEqual(expected)
    })
  }

  it("totals match totalTokenCount", () => {
    for (const [, metadata, expected] of cases) {
      if (metadata?.totalTokenCount === undefined) continue
      const usage = expected as { promptTokens: number; completionTokens: number }
      expect(usage.promptTokens + usage.completionTokens).toBe(metadata.totalTokenCount)
    }
  })
})
