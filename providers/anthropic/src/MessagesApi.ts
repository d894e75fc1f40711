/**
 * The parts of Anthropic's Messages API (`POST /v1/messages`, version
 * `2023-06-01`) that the translations read and write. Every object keeps an
 * index signature because Anthropic adds fields over time and the
 * translations pass unknown ones through where they can.
 */

export interface CacheControl {
  readonly type: string
  readonly ttl?: string
  readonly [key: string]: unknown
}

export interface TextBlock {
  readonly type: "text"
  readonly text: string
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export type ImageSource =
  | { readonly type: "base64"; readonly media_type: string; readonly data: string }
  | { readonly type: "url"; readonly url: string }

export interface ImageBlock {
  readonly type: "image"
  readonly source: ImageSource
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export interface DocumentBlock {
  readonly type: "document"
  readonly source: { readonly type: string; readonly [key: string]: unknown }
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export interface ToolUseBlock {
  readonly type: "tool_use"
  readonly id: string
  readonly name: string
  readonly input: unknown
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export interface ToolResultBlock {
  readonly type: "tool_result"
  readonly tool_use_id: string
  readonly content?: string | ReadonlyArray<TextBlock | ImageBlock>
  readonly is_error?: boolean
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export interface ThinkingBlock {
  readonly type: "thinking"
  readonly thinking: string
  readonly signature: string
  readonly [key: string]: unknown
}

/** A thinking block that Anthropic's safety systems encrypted. Its `data` must be sent back unchanged. */
export interface RedactedThinkingBlock {
  readonly type: "redacted_thinking"
  readonly data: string
  readonly [key: string]: unknown
}

export type ContentBlock =
  | TextBlock
  | ImageBlock
  | DocumentBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock

export interface MessageParam {
  readonly role: "user" | "assistant"
  readonly content: string | ReadonlyArray<ContentBlock>
}

export interface Tool {
  readonly name: string
  readonly description?: string
  readonly input_schema: unknown
  readonly cache_control?: CacheControl
  readonly [key: string]: unknown
}

export type ToolChoice =
  | { readonly type: "auto" | "any"; readonly disable_parallel_tool_use?: boolean }
  | { readonly type: "tool"; readonly name: string; readonly disable_parallel_tool_use?: boolean }
  | { readonly type: "none" }

export type ThinkingConfig =
  | { readonly type: "enabled"; readonly budget_tokens: number }
  | { readonly type: "disabled" }
  | { readonly type: string; readonly [key: string]: unknown }

/** The request body of `POST /v1/messages`. */
export interface MessagesBody {
  readonly model: string
  readonly messages: ReadonlyArray<MessageParam>
  readonly max_tokens: number
  readonly system?: string | ReadonlyArray<TextBlock>
  readonly stop_sequences?: ReadonlyArray<string>
  readonly temperature?: number
  readonly top_p?: number
  readonly top_k?: number
  readonly tools?: ReadonlyArray<Tool>
  readonly tool_choice?: ToolChoice
  readonly thinking?: ThinkingConfig
  readonly metadata?: { readonly user_id?: string }
  readonly output_config?: { readonly format?: unknown; readonly [key: string]: unknown }
  readonly stream?: boolean
  readonly [key: string]: unknown
}

/**
 * Token counts. `input_tokens` excludes the cache-read and cache-write
 * tokens, which Anthropic reports in their own fields.
 */
export interface MessagesUsage {
  readonly input_tokens?: number | null
  readonly output_tokens?: number | null
  /** All cache-write tokens, of both lifetimes. */
  readonly cache_creation_input_tokens?: number | null
  readonly cache_read_input_tokens?: number | null
  /** The cache-write tokens split by cache lifetime, in newer responses. */
  readonly cache_creation?: CacheCreation | null
  readonly [key: string]: unknown
}

/** Cache-write tokens by the lifetime of the cache entry they created. */
export interface CacheCreation {
  readonly ephemeral_5m_input_tokens?: number | null
  readonly ephemeral_1h_input_tokens?: number | null
  readonly [key: string]: unknown
}

/** The response body of `POST /v1/messages` without streaming. */
export interface MessageResponse {
  readonly id: string
  readonly type: "message"
  readonly role: "assistant"
  readonly model: string
  readonly content: ReadonlyArray<ContentBlock | { readonly type: string; readonly [key: string]: unknown }>
  readonly stop_reason: string | null
  readonly stop_sequence: string | null
  readonly usage: MessagesUsage
  readonly [key: string]: unknown
}

/** The `error` object of an error body or of a streamed `error` event. */
export interface ErrorObject {
  readonly type: string
  readonly message: string
}

export type ContentBlockDelta =
  | { readonly type: "text_delta"; readonly text: string }
  | { readonly type: "input_json_delta"; readonly partial_json: string }
  | { readonly type: "thinking_delta"; readonly thinking: string }
  | { readonly type: "signature_delta"; readonly signature: string }
  | { readonly type: "citations_delta"; readonly citation: unknown }

/** The payloads of the streamed events. Each event's SSE `event:` name equals its `type`. */
export type StreamPayload =
  | { readonly type: "message_start"; readonly message: MessageResponse }
  | {
      readonly type: "content_block_start"
      readonly index: number
      readonly content_block: { readonly type: string; readonly [key: string]: unknown }
    }
  | { readonly type: "content_block_delta"; readonly index: number; readonly delta: ContentBlockDelta }
  | { readonly type: "content_block_stop"; readonly index: number }
  | {
      readonly type: "message_delta"
      readonly delta: { readonly stop_reason: string | null; readonly stop_sequence: string | null }
      readonly usage: MessagesUsage
    }
  | { readonly type: "message_stop" }
  | { readonly type: "ping" }
  | { readonly type: "error"; readonly error: ErrorObject }
