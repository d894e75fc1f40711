/**
 * The parts of Gemini's `generateContent` wire format that Fluxen reads and
 * writes. Responses are decoded with schemas because they come from the
 * network. Unknown fields are ignored, and fields that only one flavour sends
 * are optional: the Vertex AI flavour omits `index` on candidates and adds
 * `createTime` and `trafficType`.
 */
import { Schema } from "effect"

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

export const FunctionCall = Schema.Struct({
  /** Sent by some models. When absent, the adapter generates an OpenAI tool call id. */
  id: Schema.optional(Schema.String),
  name: Schema.String,
  args: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type FunctionCall = typeof FunctionCall.Type

export const ResponsePart = Schema.Struct({
  text: Schema.optional(Schema.String),
  /** True on a thought summary, which becomes `reasoning_content`. */
  thought: Schema.optional(Schema.Boolean),
  /** An opaque token that the model needs back, on the same part, in the next turn. */
  thoughtSignature: Schema.optional(Schema.String),
  functionCall: Schema.optional(FunctionCall)
})
export type ResponsePart = typeof ResponsePart.Type

export const Candidate = Schema.Struct({
  content: Schema.optional(
    Schema.Struct({
      role: Schema.optional(Schema.String),
      parts: Schema.optional(Schema.Array(ResponsePart))
    })
  ),
  finishReason: Schema.optional(Schema.String),
  /** Absent in the Vertex AI flavour, where the position in `candidates` is the index. */
  index: Schema.optional(Schema.Number)
})
export type Candidate = typeof Candidate.Type

const TokenCount = Schema.optional(Schema.Number)

/** Token counts. In a stream every chunk repeats the running totals. */
export const UsageMetadata = Schema.Struct({
  /** All input tokens, including `cachedContentTokenCount`. */
  promptTokenCount: TokenCount,
  /** Output tokens without the thoughts. */
  candidatesTokenCount: TokenCount,
  thoughtsTokenCount: TokenCount,
  cachedContentTokenCount: TokenCount,
  /** Input tokens of tool results the model read (search grounding, code execution). */
  toolUsePromptTokenCount: TokenCount,
  totalTokenCount: TokenCount
})
export type UsageMetadata = typeof UsageMetadata.Type

export const GenerateContentResponse = Schema.Struct({
  candidates: Schema.optional(Schema.Array(Candidate)),
  promptFeedback: Schema.optional(
    Schema.Struct({
      blockReason: Schema.optional(Schema.String)
    })
  ),
  usageMetadata: Schema.optional(UsageMetadata),
  modelVersion: Schema.optional(Schema.String),
  responseId: Schema.optional(Schema.String),
  /** RFC 3339 time, sent only by Vertex AI. */
  createTime: Schema.optional(Schema.String)
})
export type GenerateContentResponse = typeof GenerateContentResponse.Type

export const BatchEmbedContentsResponse = Schema.Struct({
  embeddings: Schema.Array(Schema.Struct({ values: Schema.Array(Schema.Number) }))
})
export type BatchEmbedContentsResponse = typeof BatchEmbedContentsResponse.Type

export const ListModelsResponse = Schema.Struct({
  models: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String }))),
  nextPageToken: Schema.optional(Schema.String)
})
export type ListModelsResponse = typeof ListModelsResponse.Type

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

export type JsonObject = { readonly [key: string]: unknown }

export type RequestPart =
  | { readonly text: string; readonly thoughtSignature?: string }
  | { readonly inlineData: { readonly mimeType: string; readonly data: string } }
  | { readonly fileData: { readonly mimeType: string; readonly fileUri: string } }
  | { readonly functionCall: { readonly name: string; readonly args: JsonObject }; readonly thoughtSignature?: string }
  | { readonly functionResponse: { readonly name: string; readonly response: JsonObject } }

export interface Content {
  readonly role: "user" | "model"
  readonly parts: ReadonlyArray<RequestPart>
}

export interface FunctionDeclaration {
  readonly name: string
  readonly description?: string
  readonly parameters?: JsonObject
}

export type FunctionCallingMode = "AUTO" | "ANY" | "NONE"

export interface ToolConfig {
  readonly functionCallingConfig: {
    readonly mode: FunctionCallingMode
    readonly allowedFunctionNames?: ReadonlyArray<string>
  }
}

export interface ThinkingConfig {
  readonly thinkingBudget: number
  readonly includeThoughts: boolean
}

export interface GenerationConfig {
  maxOutputTokens?: number
  temperature?: number
  topP?: number
  topK?: number
  stopSequences?: ReadonlyArray<string>
  candidateCount?: number
  seed?: number
  presencePenalty?: number
  frequencyPenalty?: number
  responseMimeType?: string
  responseSchema?: JsonObject
  thinkingConfig?: ThinkingConfig
}

export interface GenerateContentRequest {
  readonly contents: ReadonlyArray<Content>
  readonly systemInstruction?: { readonly parts: ReadonlyArray<{ readonly text: string }> }
  readonly tools?: ReadonlyArray<{ readonly functionDeclarations: ReadonlyArray<FunctionDeclaration> }>
  readonly toolConfig?: ToolConfig
  readonly generationConfig?: GenerationConfig
}

export interface EmbedContentRequest {
  /** `models/<name>`, naming the same model as the URL. */
  readonly model: string
  readonly content: { readonly parts: ReadonlyArray<{ readonly text: string }> }
  readonly outputDimensionality?: number
}
