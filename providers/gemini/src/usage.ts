/**
 * Gemini's `usageMetadata` in Fluxen's canonical usage shape.
 *
 * Gemini counts thoughts apart from the response text (`thoughtsTokenCount` is not
 * part of `candidatesTokenCount`) and bills both as output, while the
 * canonical shape counts reasoning inside `completionTokens`, so the two are
 * added. `promptTokenCount` already includes the cached tokens.
 */
import type { Usage } from "@fluxen/sdk"
import type { UsageMetadata } from "./GeminiTypes.js"

/** Converts `usageMetadata`, or returns undefined when the response carried none. */
export const usageFromGemini = (metadata: UsageMetadata | undefined): Usage | undefined => {
  if (metadata === undefined) return undefined
  const thoughts = metadata.thoughtsTokenCount ?? 0
  return {
    // Tool results the model read (grounding, code execution) are input Gemini
    // bills but counts apart from the prompt.
    promptTokens: (metadata.promptTokenCount ?? 0) + (metadata.toolUsePromptTokenCount ?? 0),
    completionTokens: (metadata.candidatesTokenCount ?? 0) + thoughts,
    cachedInputTokens: metadata.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: thoughts
  }
}
