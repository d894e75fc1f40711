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
import { isRecord } from "./validation.js"

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/**
 * Normalizes an Anthropic `usage` object. Anthropic does not report
 * thinking tokens separately (they are part of `output_tokens`), so
 * `reasoningTokens` is always 0.
 *
 * `cache_creation_input_tokens` is the total of both cache lifetimes, and
 * `cache_creation` splits it into 5-minute and 1-hour writes. A usage with
 * only the split gets the sum as its total. The 1-hour count is capped at the
 * total, so it stays a part of `cacheWriteTokens`.
 */
export const usageFromAnthropic = (usage: MessagesUsage): Usage => {
  const cacheRead = count(usage.cache_read_input_tokens)
  const split = isRecord(usage.cache_creation) ? usage.cache_creation : undefined
  const written1h = count(split?.ephemeral_1h_input_tokens)
  const cacheWrite =
    typeof usage.cache_creation_input_tokens === "number"
      ? count(usage.cache_creation_input_tokens)
      : count(split?.ephemeral_5m_input_tokens) + written1h
  return {
    promptTokens: count(usage.input_tokens) + cacheRead + cacheWrite,
    completionTokens: count(usage.output_tokens),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: Math.min(written1h, cacheWrite),
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
 * counts in `prompt_tokens_details.cache_write_tokens` and
 * `cache_write_1h_tokens` (the fields the SDK's `usageFromOpenAI` reads back).
 */
export const usageToChatCompletionUsage = (usage: Usage): ChatCompletionUsage => {
  const openAI = usageToOpenAI(usage)
  const cacheWrite1h = usage.cacheWrite1hTokens === undefined ? {} : { cache_write_1h_tokens: usage.cacheWrite1hTokens }
  return {
    ...openAI,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: usage.cacheWriteTokens, ...cacheWrite1h }
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
