/**
 * The canonical chat request: OpenAI's chat completions body. Known fields
 * are validated; unknown fields are kept as they are, so a provider that
 * understands them still receives them.
 *
 * An optional field whose null can only mean "not set" also accepts null,
 * because clients that serialize every field (Python SDK models dumped back
 * into a conversation, hand-built bodies) send null for what they leave out.
 * Code that reads the request treats such a null as an absent field. Fields
 * that some requests require, such as `tool_call_id` on a tool message, still
 * reject null.
 */
import { Schema } from "effect"

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** One element of a message's `content` array; only `type` is checked here. */
export const ContentPart = Schema.Struct({ type: Schema.String }, Extra).annotations({ identifier: "ContentPart" })
export type ContentPart = typeof ContentPart.Type

export const MessageContent = Schema.Union(Schema.String, Schema.Array(ContentPart), Schema.Null)

export const ToolCall = Schema.Struct(
  {
    id: Schema.String,
    type: Schema.optional(Schema.String),
    function: Schema.Struct({ name: Schema.String, arguments: Schema.String }, Extra)
  },
  Extra
).annotations({ identifier: "ToolCall" })
export type ToolCall = typeof ToolCall.Type

export const ChatMessage = Schema.Struct(
  {
    role: Schema.Literal("system", "developer", "user", "assistant", "tool", "function"),
    content: Schema.optional(MessageContent),
    name: Schema.optional(Schema.NullOr(Schema.String)),
    tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCall))),
    tool_call_id: Schema.optional(Schema.String)
  },
  Extra
).annotations({ identifier: "ChatMessage" })
export type ChatMessage = typeof ChatMessage.Type

export const FunctionTool = Schema.Struct(
  {
    type: Schema.String,
    function: Schema.optional(
      Schema.Struct(
        {
          name: Schema.String,
          description: Schema.optional(Schema.NullOr(Schema.String)),
          parameters: Schema.optional(Schema.Unknown),
          strict: Schema.optional(Schema.NullOr(Schema.Boolean))
        },
        Extra
      )
    )
  },
  Extra
).annotations({ identifier: "Tool" })

export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({ type: Schema.String }, Extra)
)

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

export const ChatRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.minLength(1)),
    messages: Schema.Array(ChatMessage).pipe(Schema.minItems(1)),
    stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
    stream_options: Schema.optional(
      Schema.NullOr(Schema.Struct({ include_usage: Schema.optional(Schema.NullOr(Schema.Boolean)) }, Extra))
    ),
    max_tokens: Schema.optional(Schema.NullOr(NonNegativeInt)),
    max_completion_tokens: Schema.optional(Schema.NullOr(NonNegativeInt)),
    temperature: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 2)))),
    top_p: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1)))),
    n: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, 128)))),
    stop: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.String)))),
    seed: Schema.optional(Schema.NullOr(Schema.Int)),
    presence_penalty: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(-2, 2)))),
    frequency_penalty: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(-2, 2)))),
    tools: Schema.optional(Schema.NullOr(Schema.Array(FunctionTool))),
    tool_choice: Schema.optional(Schema.NullOr(ToolChoice)),
    parallel_tool_calls: Schema.optional(Schema.NullOr(Schema.Boolean)),
    response_format: Schema.optional(Schema.NullOr(Schema.Struct({ type: Schema.String }, Extra))),
    reasoning_effort: Schema.optional(Schema.NullOr(Schema.String)),
    user: Schema.optional(Schema.NullOr(Schema.String))
  },
  Extra
)
export type ChatRequest = typeof ChatRequest.Type

/** The legacy `/v1/completions` body; only the fields Fluxen reads are checked. */
export const CompletionRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.minLength(1)),
    prompt: Schema.Unknown,
    stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
    stream_options: Schema.optional(
      Schema.NullOr(Schema.Struct({ include_usage: Schema.optional(Schema.NullOr(Schema.Boolean)) }, Extra))
    ),
    max_tokens: Schema.optional(Schema.NullOr(NonNegativeInt))
  },
  Extra
)
export type CompletionRequest = typeof CompletionRequest.Type

/** The Responses API body; only the fields Fluxen reads are checked. */
export const ResponsesRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.minLength(1)),
    stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
    max_output_tokens: Schema.optional(Schema.NullOr(NonNegativeInt))
  },
  Extra
)
export type ResponsesRequest = typeof ResponsesRequest.Type

export const EmbeddingsRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.minLength(1)),
    input: Schema.Union(
      Schema.String,
      Schema.Array(Schema.String).pipe(Schema.minItems(1)),
      Schema.Array(Schema.Number).pipe(Schema.minItems(1)),
      Schema.Array(Schema.Array(Schema.Number)).pipe(Schema.minItems(1))
    ),
    encoding_format: Schema.optional(Schema.NullOr(Schema.Literal("float", "base64"))),
    dimensions: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
    user: Schema.optional(Schema.NullOr(Schema.String))
  },
  Extra
)
export type EmbeddingsRequest = typeof EmbeddingsRequest.Type

/**
 * Anthropic's token counting body, for the `/v1/messages/count_tokens` route:
 * the Messages body without `max_tokens` and `stream`. Only the fields Fluxen
 * reads are checked.
 */
export const CountTokensRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.minLength(1)),
    messages: Schema.Array(
      Schema.Struct({ role: Schema.Literal("user", "assistant"), content: Schema.Union(Schema.String, Schema.Array(ContentPart)) }, Extra)
    ),
    system: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(ContentPart))))
  },
  Extra
)
export type CountTokensRequest = typeof CountTokensRequest.Type

/** Anthropic's Messages API body, for the `/v1/messages` route; only the fields Fluxen reads are checked. */
export const MessagesRequest = Schema.Struct(
  {
    model: CountTokensRequest.fields.model,
    messages: CountTokensRequest.fields.messages,
    max_tokens: Schema.Int.pipe(Schema.positive()),
    system: CountTokensRequest.fields.system,
    stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
    // Checked here because the translation for other providers drops a value it cannot read,
    // where Anthropic returns 400.
    temperature: Schema.optional(Schema.NullOr(Schema.Number)),
    top_p: Schema.optional(Schema.NullOr(Schema.Number)),
    top_k: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.nonNegative()))),
    stop_sequences: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
  },
  Extra
)
export type MessagesRequest = typeof MessagesRequest.Type
