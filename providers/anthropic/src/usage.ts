/**
 * Token usage between Anthropic's counters and Fluxen's canonical `Usage`.
 *
 * Anthropic's `input_tokens` excludes cached input: cache reads are in
 * `cache_read_input_tokens` and cache writes in `cache_creation_input_tokens`.
 * The canonical `promptTokens` counts all three, so
 * `promptTokens = input + cache read + cache write`.
 */
import { usageToOpenAI, type ChatCompletionUsage, type Usage } from "@fluxen/sdk"
import type { MessagesUsage } from "./MessagesApi.js"

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/**
 * Normalizes an Anthropic `usage` object. Anthropic does not report
 * thinking tokens separately (they are part of `output_tokens`), so
 * `reasoningTokens` is always 0.
 */
export const usageFromAnthropic = (usage: MessagesUsage): Usage => {
  const cacheRead = count(usage.cache_read_input_tokens)
  const cacheWrite = count(usage.cache_creation_input_tokens)
  return {
    promptTokens: count(usage.input_tokens) + cacheRead + cacheWrite,
    completionTokens: count(usage.output_tokens),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: 0
  }
}

/**
 * Returns the usage of a `message_start` event with its output count set to
 * 0. That count is a placeholder (1 or 2 in Anthropic's streams), and the
 * real one comes with `message_delta`. A stream that stops before then
 * reports no output, so the analyzer counts the text that was delivered.
 */
export const usageAtMessageStart = (usage: MessagesUsage | undefined): MessagesUsage => ({ ...usage, output_tokens: 0 })

/**
 * Renders a usage as OpenAI's chat `usage` object, with the cache-write
 * count in `prompt_tokens_details.cache_write_tokens` (the field the SDK's
 * `usageFromOpenAI` reads back).
 */
export const usageToChatCompletionUsage = (usage: Usage): ChatCompletionUsage => {
  const openAI = usageToOpenAI(usage)
  return {
    ...openAI,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: usage.cacheWriteTokens }
  }
}

/** Renders a usage as Anthropic's `usage` object. */
export const usageToAnthropic = (usage: Usage) => ({
  input_tokens: Math.max(0, usage.promptTokens - usage.cachedInputTokens - usage.cacheWriteTokens),
  cache_creation_input_tokens: usage.cacheWriteTokens,
  cache_read_input_tokens: usage.cachedInputTokens,
  output_tokens: usage.completionTokens
})

/**
 * Merges streamed usage: `message_start` carries the input and cache
 * counts, and each `message_delta` repeats cumulative counts, sometimes
 * only `output_tokens`. A field present in `update` replaces the old value.
 */
export const mergeAnthropicUsage = (current: MessagesUsage, update: MessagesUsage | undefined): MessagesUsage => {
  if (update === undefined) return current
  const merged: Record<string, unknown> = { ...current }
  for (const [name, value] of Object.entries(update)) {
    if (value !== null && value !== undefined) merged[name] = value
  }
  return merged
}
