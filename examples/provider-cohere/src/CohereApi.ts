/**
 * The parts of Cohere's Chat API v2 (`POST /v2/chat`) this plugin reads and
 * writes, following Cohere's public API reference. Fields the plugin does not
 * use are left out.
 */

export interface CohereToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

export type CohereContent =
  | string
  | ReadonlyArray<{ readonly type: "text"; readonly text: string } | { readonly type: "image_url"; readonly image_url: { readonly url: string } }>

export type CohereMessage =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: CohereContent }
  | { readonly role: "assistant"; readonly content?: string; readonly tool_calls?: ReadonlyArray<CohereToolCall> }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

export interface CohereTool {
  readonly type: "function"
  readonly function: { readonly name: string; readonly description?: string; readonly parameters?: unknown }
}

export interface CohereChatRequest {
  readonly model: string
  readonly messages: ReadonlyArray<CohereMessage>
  readonly stream: boolean
  readonly tools?: ReadonlyArray<CohereTool>
  readonly tool_choice?: "REQUIRED" | "NONE"
  readonly max_tokens?: number
  readonly temperature?: number
  readonly p?: number
  readonly stop_sequences?: ReadonlyArray<string>
  readonly seed?: number
  readonly frequency_penalty?: number
  readonly presence_penalty?: number
  readonly response_format?: { readonly type: "text" | "json_object"; readonly json_schema?: unknown }
}

/** Token counts: `billed_units` is what Cohere charges for, `tokens` what the model processed. */
export interface CohereUsage {
  readonly billed_units?: { readonly input_tokens?: number; readonly output_tokens?: number }
  readonly tokens?: { readonly input_tokens?: number; readonly output_tokens?: number }
}

export interface CohereChatResponse {
  readonly id: string
  readonly finish_reason: string
  readonly message: {
    readonly role: "assistant"
    readonly content?: ReadonlyArray<{ readonly type: string; readonly text?: string }>
    readonly tool_plan?: string
    readonly tool_calls?: ReadonlyArray<CohereToolCall>
  }
  readonly usage?: CohereUsage
}
