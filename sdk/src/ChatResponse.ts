/**
 * The canonical response shapes: OpenAI's chat completion and chat
 * completion chunk. Adapters for other providers translate into these.
 */
import type { ToolCall } from "./ChatRequest.js"

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call"

export interface ChatCompletionUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
  readonly prompt_tokens_details?: { readonly cached_tokens?: number; readonly [key: string]: unknown }
  readonly completion_tokens_details?: { readonly reasoning_tokens?: number; readonly [key: string]: unknown }
  readonly [key: string]: unknown
}

export interface ChatCompletionMessage {
  readonly role: "assistant"
  readonly content: string | null
  readonly refusal?: string | null
  readonly tool_calls?: ReadonlyArray<ToolCall>
  readonly [key: string]: unknown
}

export interface ChatCompletion {
  readonly id: string
  readonly object: "chat.completion"
  readonly created: number
  readonly model: string
  readonly choices: ReadonlyArray<{
    readonly index: number
    readonly message: ChatCompletionMessage
    readonly finish_reason: FinishReason | null
    readonly logprobs?: unknown
  }>
  readonly usage?: ChatCompletionUsage
  readonly [key: string]: unknown
}

export interface ChatCompletionChunkToolCall {
  readonly index: number
  readonly id?: string
  readonly type?: "function"
  readonly function?: { readonly name?: string; readonly arguments?: string }
}

export interface ChatCompletionChunk {
  readonly id: string
  readonly object: "chat.completion.chunk"
  readonly created: number
  readonly model: string
  readonly choices: ReadonlyArray<{
    readonly index: number
    readonly delta: {
      readonly role?: "assistant"
      readonly content?: string | null
      readonly refusal?: string | null
      readonly tool_calls?: ReadonlyArray<ChatCompletionChunkToolCall>
      readonly [key: string]: unknown
    }
    readonly finish_reason: FinishReason | null
    readonly logprobs?: unknown
  }>
  readonly usage?: ChatCompletionUsage | null
  readonly [key: string]: unknown
}
