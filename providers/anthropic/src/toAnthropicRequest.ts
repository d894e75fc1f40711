/**
 * OpenAI chat completions body → Anthropic Messages body.
 *
 * Anthropic differs from OpenAI in five ways handled here. System text is a
 * top-level field, and turns must alternate between user and assistant.
 * Tool results are content blocks of a user turn. `max_tokens` is required,
 * and thinking is configured with a token budget.
 *
 * Fields with no Anthropic counterpart that only tune sampling or
 * bookkeeping (`presence_penalty`, `frequency_penalty`, `seed`,
 * `logit_bias`, `store`, OpenAI's `metadata`, `service_tier`,
 * `stream_options`) are left out. Fields whose absence would change what the
 * client gets back (`n` above 1, `logprobs`, JSON mode without a schema,
 * audio) are rejected with an `InvalidRequestError`. Of the fields outside
 * OpenAI's schema, only Anthropic's own `top_k` and `thinking` are forwarded.
 */
import type { ChatRequest, InvalidRequestError } from "@fluxen/sdk"
import type { Effect } from "effect"
import type { MessagesBody, ThinkingConfig } from "./MessagesApi.js"
import { thinkingBudgetFor } from "./thinking.js"
import { translateMessages } from "./toAnthropicMessages.js"
import { translateToolChoice, translateTools } from "./toAnthropicTools.js"
import { invalidField, isRecord, runTranslation } from "./validation.js"

export interface ToAnthropicRequestOptions {
  /** The model name to send upstream. */
  readonly model: string
  /** `max_tokens` when the request sets neither `max_completion_tokens` nor `max_tokens`. */
  readonly defaultMaxTokens: number
  readonly stream: boolean
}

/** Translates a chat request, or fails with an `InvalidRequestError` naming the first field Anthropic cannot take. */
export const toAnthropicRequest = (
  request: ChatRequest,
  options: ToAnthropicRequestOptions
): Effect.Effect<MessagesBody, InvalidRequestError> => runTranslation(() => buildMessagesBody(request, options))

/** Translates like {@link toAnthropicRequest} but throws the `InvalidRequestError`, for callers already inside a `try`. */
export const buildMessagesBody = (request: ChatRequest, options: ToAnthropicRequestOptions): MessagesBody => {
  rejectUnsupportedFields(request)

  const { system, messages } = translateMessages(request.messages)
  const body: Record<string, unknown> = { model: options.model, messages }
  if (system.length > 0) body.system = system

  let maxTokens = request.max_completion_tokens ?? request.max_tokens ?? options.defaultMaxTokens
  const thinking = translateThinking(request)
  if (thinking !== undefined) {
    body.thinking = thinking
    // Anthropic counts thinking inside max_tokens and requires
    // budget_tokens < max_tokens, so a smaller limit is raised to leave the
    // requested room for the response text after the thinking.
    const budget = "budget_tokens" in thinking && typeof thinking.budget_tokens === "number" ? thinking.budget_tokens : 0
    if (maxTokens <= budget) maxTokens = budget + maxTokens
  }
  body.max_tokens = maxTokens

  if (request.temperature !== undefined && request.temperature !== null) {
    if (request.temperature > 1) {
      throw invalidField(
        "temperature",
        `Invalid temperature ${request.temperature}: Anthropic models accept values from 0 to 1.`
      )
    }
    body.temperature = request.temperature
  }
  if (request.top_p !== undefined && request.top_p !== null) body.top_p = request.top_p
  if (request.top_k !== undefined && request.top_k !== null) {
    if (typeof request.top_k !== "number" || !Number.isInteger(request.top_k) || request.top_k < 0) {
      throw invalidField("top_k", "Invalid top_k: expected a non-negative integer.")
    }
    body.top_k = request.top_k
  }

  const stop = request.stop
  if (typeof stop === "string") body.stop_sequences = [stop]
  else if (Array.isArray(stop) && stop.length > 0) body.stop_sequences = stop

  const tools = translateTools(request)
  if (tools.length > 0) {
    body.tools = tools
    const toolChoice = translateToolChoice(request)
    if (toolChoice !== undefined) body.tool_choice = toolChoice
  }

  const outputFormat = translateResponseFormat(request)
  if (outputFormat !== undefined) body.output_config = { format: outputFormat }

  if (typeof request.user === "string" && request.user !== "") body.metadata = { user_id: request.user }
  if (options.stream) body.stream = true
  return body as unknown as MessagesBody
}

// ---------------------------------------------------------------------------
// Rejected fields
// ---------------------------------------------------------------------------

const rejectUnsupportedFields = (request: ChatRequest): void => {
  if (typeof request.n === "number" && request.n > 1) {
    throw invalidField("n", "Anthropic models return one choice per request. Set n to 1 or leave it out.", "unsupported_parameter")
  }
  if (request.logprobs === true) {
    throw invalidField("logprobs", "Anthropic models do not return log probabilities. Leave logprobs out.", "unsupported_parameter")
  }
  if (request.audio !== undefined && request.audio !== null) {
    throw invalidField("audio", "Anthropic models do not produce audio output. Leave audio out.", "unsupported_parameter")
  }
}

// ---------------------------------------------------------------------------
// Thinking and output format
// ---------------------------------------------------------------------------

/**
 * Chooses the thinking config. A native `thinking` object wins over
 * `reasoning_effort`, so a client can set an exact budget.
 */
const translateThinking = (request: ChatRequest): ThinkingConfig | undefined => {
  if (request.thinking !== undefined) {
    if (!isRecord(request.thinking) || typeof request.thinking.type !== "string") {
      throw invalidField("thinking", "Invalid thinking: expected an object such as {type: 'enabled', budget_tokens: 2048}.")
    }
    return request.thinking as ThinkingConfig
  }
  const effort = request.reasoning_effort
  if (effort === undefined || effort === null) return undefined
  const budget = thinkingBudgetFor(effort)
  return budget === null ? undefined : { type: "enabled", budget_tokens: budget }
}

/**
 * `response_format` with a JSON schema → Anthropic structured outputs
 * (`output_config.format`). Schema-less JSON mode has no Anthropic
 * counterpart, so it is rejected instead of silently returning free text.
 */
const translateResponseFormat = (request: ChatRequest): unknown => {
  const format = request.response_format
  if (format === undefined || format === null || format.type === "text") return undefined
  if (format.type === "json_schema") {
    const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined
    if (!isRecord(schema)) {
      throw invalidField("response_format.json_schema.schema", "Missing response_format.json_schema.schema: expected a JSON schema object.")
    }
    // NOTE: only Claude models with structured-output support accept this, and others respond with a 400.
    return { type: "json_schema", schema }
  }
  throw invalidField(
    "response_format.type",
    `Invalid response_format.type '${format.type}': Anthropic models support 'text' and 'json_schema' only.`,
    "unsupported_parameter"
  )
}
