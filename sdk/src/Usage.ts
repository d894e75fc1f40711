/**
 * Token usage in one shape for every provider. `promptTokens` counts all
 * input tokens, including the cached and cache-write ones (OpenAI's
 * convention), so each token is counted once: uncached input is
 * `promptTokens - cachedInputTokens - cacheWriteTokens`.
 * `reasoningTokens` is part of `completionTokens`.
 */
export interface Usage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  /**
   * The part of `cacheWriteTokens` written with a 1-hour lifetime, which
   * Anthropic prices above the default 5-minute writes. Absent when the
   * provider reports no lifetime split, and then every write is a 5-minute one.
   */
  readonly cacheWrite1hTokens?: number
  readonly reasoningTokens: number
}

export const emptyUsage: Usage = {
  promptTokens: 0,
  completionTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/** Where an OpenAI-compatible server departs from OpenAI's usage conventions. */
export interface UsageQuirks {
  /**
   * The server reports reasoning tokens beside `completion_tokens` instead of
   * inside it (xAI), so they are added to the completion count.
   */
  readonly reasoningOutsideCompletion?: boolean
}

/**
 * Normalizes an OpenAI `usage` object (chat, completions, embeddings or the
 * Responses API), including DeepSeek's `prompt_cache_hit_tokens`. Returns
 * undefined when the value carries no token counts.
 */
export const usageFromOpenAI = (usage: unknown, quirks?: UsageQuirks): Usage | undefined => {
  if (typeof usage !== "object" || usage === null) return undefined
  const raw = usage as Record<string, any>
  if (raw.prompt_tokens === undefined && raw.completion_tokens === undefined && raw.input_tokens === undefined) {
    return undefined
  }
  // The Responses API names its fields input/output instead of prompt/completion.
  const promptDetails = raw.prompt_tokens_details ?? raw.input_tokens_details
  const completionDetails = raw.completion_tokens_details ?? raw.output_tokens_details
  const reasoningTokens = count(completionDetails?.reasoning_tokens)
  const completionTokens = count(raw.completion_tokens ?? raw.output_tokens)
  // `cache_write_1h_tokens` is Fluxen's own field, written by the Anthropic provider's chat responses.
  const cacheWrite1h = promptDetails?.cache_write_1h_tokens
  return {
    promptTokens: count(raw.prompt_tokens ?? raw.input_tokens),
    completionTokens: quirks?.reasoningOutsideCompletion === true ? completionTokens + reasoningTokens : completionTokens,
    cachedInputTokens: count(promptDetails?.cached_tokens ?? raw.prompt_cache_hit_tokens),
    cacheWriteTokens: count(promptDetails?.cache_write_tokens),
    ...(cacheWrite1h === undefined ? {} : { cacheWrite1hTokens: count(cacheWrite1h) }),
    reasoningTokens
  }
}

/** Renders a usage as OpenAI's chat `usage` object. */
export const usageToOpenAI = (usage: Usage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
  prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
  completion_tokens_details: { reasoning_tokens: usage.reasoningTokens }
})
