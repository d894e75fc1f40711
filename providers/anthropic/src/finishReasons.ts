/**
 * Mapping between Anthropic's `stop_reason` and OpenAI's `finish_reason`.
 */
import type { FinishReason } from "@fluxen/sdk"

/**
 * Anthropic `stop_reason` → OpenAI `finish_reason`. `pause_turn` means a
 * server tool paused a long turn. It has no OpenAI counterpart and maps to
 * `stop`, because the turn ended normally and the client may continue it.
 */
export const finishReasonByStopReason: Readonly<Record<string, FinishReason>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  pause_turn: "stop",
  refusal: "content_filter"
}

/**
 * OpenAI `finish_reason` → Anthropic `stop_reason`. OpenAI does not say
 * whether `stop` came from a stop sequence, so it becomes `end_turn`.
 */
export const stopReasonByFinishReason: Readonly<Record<FinishReason, string>> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal"
}

/**
 * Maps a stop reason. A null one stays null, and one missing from the table
 * (Anthropic adds new ones over time) becomes `stop`.
 */
export const toFinishReason = (stopReason: string | null | undefined): FinishReason | null => {
  if (stopReason === null || stopReason === undefined) return null
  return finishReasonByStopReason[stopReason] ?? "stop"
}

/** Maps a finish reason. Null and values missing from the table become null. */
export const toStopReason = (finishReason: string | null | undefined): string | null => {
  if (finishReason === null || finishReason === undefined) return null
  return Object.hasOwn(stopReasonByFinishReason, finishReason)
    ? stopReasonByFinishReason[finishReason as FinishReason]
    : null
}
