/**
 * Translates Cohere's chat responses into the canonical chat completion,
 * and Cohere's usage and finish reasons into Fluxen's.
 */
import { usageToOpenAI, type ChatCompletion, type FinishReason, type Usage } from "@fluxen/sdk"
import type { CohereChatResponse, CohereUsage } from "./CohereApi.js"

/**
 * Cohere's finish reasons and their OpenAI equivalents. `ERROR` and
 * `TIMEOUT` have none. The generation ended early, which `length` describes best.
 */
export const finishReasonTable: Readonly<Record<string, FinishReason>> = {
  COMPLETE: "stop",
  STOP_SEQUENCE: "stop",
  MAX_TOKENS: "length",
  TOOL_CALL: "tool_calls",
  ERROR: "length",
  TIMEOUT: "length"
}

/** Maps a Cohere finish reason (any letter case) to OpenAI's; an unknown one becomes `stop`. */
export const toFinishReason = (reason: string | undefined): FinishReason =>
  finishReasonTable[(reason ?? "COMPLETE").toUpperCase()] ?? "stop"

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/**
 * Reads Cohere's usage. The billed units are what Cohere charges for, so they
 * are preferred; `tokens` (which also counts Cohere's own prompt template) is
 * the fallback. Returns undefined when neither is present.
 */
export const usageFromCohere = (usage: CohereUsage | undefined): Usage | undefined => {
  const counts = usage?.billed_units ?? usage?.tokens
  if (counts === undefined) return undefined
  return {
    promptTokens: count(counts.input_tokens),
    completionTokens: count(counts.output_tokens),
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0
  }
}

/** Builds the chat completion for a Cohere response; `model` is the upstream model name. */
export const fromCohereResponse = (response: CohereChatResponse, model: string): { completion: ChatCompletion; usage: Usage | undefined } => {
  const text = (response.message.content ?? [])
    .filter((part) => part.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join("")
  const toolCalls = (response.message.tool_calls ?? []).map((call) => ({
    id: call.id,
    type: "function" as const,
    function: { name: call.function.name, arguments: call.function.arguments }
  }))
  const usage = usageFromCohere(response.usage)

  const completion: ChatCompletion = {
    id: response.id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && toolCalls.length > 0 ? null : text,
          refusal: null,
          ...(toolCalls.length === 0 ? {} : { tool_calls: toolCalls })
        },
        finish_reason: toFinishReason(response.finish_reason),
        logprobs: null
      }
    ],
    ...(usage === undefined ? {} : { usage: usageToOpenAI(usage) })
  }
  return { completion, usage }
}
