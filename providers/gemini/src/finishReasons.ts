/**
 * Gemini's `finishReason` values mapped to OpenAI's `finish_reason`.
 */
import type { FinishReason } from "@fluxen/sdk"

/**
 * Finish reasons that differ from `stop`. Every value missing here
 * (`FINISH_REASON_UNSPECIFIED`, `OTHER`, `LANGUAGE`,
 * `MALFORMED_FUNCTION_CALL`, values added later) becomes `stop`.
 */
export const finishReasonTable: Readonly<Record<string, FinishReason>> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter"
}

/**
 * Maps a candidate's finish reason. Gemini has no finish reason for tool
 * calls: it ends a turn that calls functions with `STOP`, which becomes
 * `tool_calls` when the candidate produced at least one `functionCall` part.
 */
export const toOpenAIFinishReason = (geminiReason: string, hasFunctionCalls: boolean): FinishReason => {
  const mapped = finishReasonTable[geminiReason] ?? "stop"
  return mapped === "stop" && geminiReason === "STOP" && hasFunctionCalls ? "tool_calls" : mapped
}
