/**
 * A hand-written check of a chat completions body that mirrors the
 * `ChatRequest` schema in `@fluxen/sdk`, field by field. For a typical request
 * it lets the pipeline skip the schema decode and the copy that the decode makes.
 *
 * Every field the schema declares is checked here with the same rule. When
 * the schema changes, change this file too. The tests in this folder compare
 * the two on recorded and generated bodies.
 */
import {
  isOptionalNullableBoolean,
  isOptionalNullableIntBetween,
  isOptionalNullableNumberBetween,
  isOptionalNullableString,
  isOptionalString,
  isPlainObject,
  isStringArray
} from "./jsonChecks.js"

// `Schema.Int` already limits a value to the safe integers, so these bounds add no rule of their own.
const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** `ChatMessage.role` */
const isRole = (value: unknown): boolean =>
  value === "user" ||
  value === "assistant" ||
  value === "system" ||
  value === "tool" ||
  value === "developer" ||
  value === "function"

/** `ContentPart`: an object with a string `type`. */
const isContentPart = (value: unknown): boolean => isPlainObject(value) && typeof value.type === "string"

/** `Schema.optional(MessageContent)`: a string, an array of content parts or null. */
const isOptionalContent = (value: unknown): boolean => {
  if (value === undefined || value === null || typeof value === "string") return true
  if (!Array.isArray(value)) return false
  for (const part of value) {
    if (!isContentPart(part)) return false
  }
  return true
}

/** The `function` member of `ToolCall`. */
const isCalledFunction = (value: unknown): boolean =>
  isPlainObject(value) && typeof value.name === "string" && typeof value.arguments === "string"

const isToolCall = (value: unknown): boolean =>
  isPlainObject(value) &&
  typeof value.id === "string" &&
  isOptionalString(value.type) &&
  isCalledFunction(value.function)

/** `Schema.optional(Schema.NullOr(Schema.Array(ToolCall)))` */
const isOptionalToolCalls = (value: unknown): boolean => {
  if (value === undefined || value === null) return true
  if (!Array.isArray(value)) return false
  for (const call of value) {
    if (!isToolCall(call)) return false
  }
  return true
}

const isChatMessage = (value: unknown): boolean =>
  isPlainObject(value) &&
  isRole(value.role) &&
  isOptionalContent(value.content) &&
  isOptionalNullableString(value.name) &&
  isOptionalToolCalls(value.tool_calls) &&
  isOptionalString(value.tool_call_id)

/** `messages`: at least one message. */
const isMessages = (value: unknown): boolean => {
  if (!Array.isArray(value) || value.length < 1) return false
  for (const message of value) {
    if (!isChatMessage(message)) return false
  }
  return true
}

/** The optional `function` member of `FunctionTool`. Its `parameters` may contain any value. */
const isOptionalToolFunction = (value: unknown): boolean =>
  value === undefined ||
  (isPlainObject(value) &&
    typeof value.name === "string" &&
    isOptionalNullableString(value.description) &&
    isOptionalNullableBoolean(value.strict))

const isTool = (value: unknown): boolean =>
  isPlainObject(value) && typeof value.type === "string" && isOptionalToolFunction(value.function)

/** `Schema.optional(Schema.NullOr(Schema.Array(FunctionTool)))` */
const isOptionalTools = (value: unknown): boolean => {
  if (value === undefined || value === null) return true
  if (!Array.isArray(value)) return false
  for (const tool of value) {
    if (!isTool(tool)) return false
  }
  return true
}

/** `Schema.optional(Schema.NullOr(ToolChoice))`: one of three keywords or an object with a string `type`. */
const isOptionalToolChoice = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  value === "auto" ||
  value === "none" ||
  value === "required" ||
  (isPlainObject(value) && typeof value.type === "string")

const isOptionalStreamOptions = (value: unknown): boolean =>
  value === undefined || value === null || (isPlainObject(value) && isOptionalNullableBoolean(value.include_usage))

const isOptionalStop = (value: unknown): boolean =>
  value === undefined || value === null || typeof value === "string" || isStringArray(value)

/** `Schema.optional(Schema.NullOr(Schema.Struct({ type: Schema.String }, Extra)))` */
const isOptionalResponseFormat = (value: unknown): boolean =>
  value === undefined || value === null || (isPlainObject(value) && typeof value.type === "string")

/**
 * Checks whether `value`, a result of `JSON.parse`, is a chat request that
 * `Schema.decodeUnknownEither(ChatRequest)` accepts and returns as a
 * deep-equal copy. False means that the schema has to decide, not that the
 * request is invalid.
 */
export const isKnownValidChatRequest = (value: unknown): boolean => {
  if (!isPlainObject(value)) return false
  const model = value.model
  return (
    typeof model === "string" &&
    model.length >= 1 &&
    isMessages(value.messages) &&
    isOptionalNullableBoolean(value.stream) &&
    isOptionalStreamOptions(value.stream_options) &&
    isOptionalNullableIntBetween(value.max_tokens, 0, MAX_SAFE) &&
    isOptionalNullableIntBetween(value.max_completion_tokens, 0, MAX_SAFE) &&
    isOptionalNullableNumberBetween(value.temperature, 0, 2) &&
    isOptionalNullableNumberBetween(value.top_p, 0, 1) &&
    isOptionalNullableIntBetween(value.n, 1, 128) &&
    isOptionalStop(value.stop) &&
    isOptionalNullableIntBetween(value.seed, -MAX_SAFE, MAX_SAFE) &&
    isOptionalNullableNumberBetween(value.presence_penalty, -2, 2) &&
    isOptionalNullableNumberBetween(value.frequency_penalty, -2, 2) &&
    isOptionalTools(value.tools) &&
    isOptionalToolChoice(value.tool_choice) &&
    isOptionalNullableBoolean(value.parallel_tool_calls) &&
    isOptionalResponseFormat(value.response_format) &&
    isOptionalNullableString(value.reasoning_effort) &&
    isOptionalNullableString(value.user)
  )
}
