/**
 * Anthropic Messages body → OpenAI chat completions body, for an
 * Anthropic-shaped ingress in front of providers that take OpenAI's shape.
 *
 * Each user turn's `tool_result` blocks become `tool` messages placed before
 * the turn's other content, because OpenAI requires tool messages right
 * after the assistant message that called the tools. Thinking in assistant
 * turns travels as `reasoning_content` and `thinking_blocks`, the fields
 * `toAnthropicRequest` reads back. A `tool_use` id that carries a Gemini
 * thought signature is split back into the call id and
 * `extra_content.google.thought_signature` (see `toolUseIds.ts`).
 *
 * Anthropic-only request fields (`service_tier`, `container`,
 * `mcp_servers`, `context_management`) are left out, because OpenAI rejects
 * parameters it does not know. `top_k` is kept as the chat request's `top_k`
 * only when the caller names it in `chatExtensions`, for the providers that
 * read it (Gemini, Anthropic). `thinking` becomes the nearest
 * `reasoning_effort`, so its exact budget is not kept, and `tool_result`'s
 * `is_error` flag has no OpenAI field and is dropped.
 */
import type { ChatExtension, ChatMessage, ChatRequest, ContentPart, CountTokensRequest, InvalidRequestError, ToolCall } from "@fluxen/sdk"
import type { Effect } from "effect"
import { encodeBase64Text, formatBase64DataUrl } from "./dataUrl.js"
import { effortForBudget, type SignedThinkingBlock } from "./thinking.js"
import { splitToolUseId } from "./toolUseIds.js"
import { invalidField, isRecord, runTranslation } from "./validation.js"

export interface FromAnthropicRequestOptions {
  /** The fields outside OpenAI's schema that the receiving adapter reads, as its `chatExtensions` lists them. Default: none. */
  readonly chatExtensions?: ReadonlyArray<ChatExtension> | undefined
}

/**
 * Translates a Messages body, or a token counting body, which has no
 * `max_tokens`. Fails with an `InvalidRequestError` naming the first block
 * the OpenAI shape cannot carry.
 */
export const fromAnthropicRequest = (
  request: CountTokensRequest,
  options: FromAnthropicRequestOptions = {}
): Effect.Effect<ChatRequest, InvalidRequestError> => runTranslation(() => buildChatRequest(request, options))

const buildChatRequest = (request: CountTokensRequest, options: FromAnthropicRequestOptions): ChatRequest => {
  const messages: Array<ChatMessage> = [...systemMessages(request.system)]
  request.messages.forEach((message, index) => {
    const param = `messages[${index}]`
    if (message.role === "user") messages.push(...userMessages(message.content, param))
    else messages.push(assistantMessage(message.content, param))
  })

  // NOTE: max_completion_tokens is OpenAI's current name, but some OpenAI-compatible servers still read only max_tokens.
  const body: Record<string, unknown> = { model: request.model, messages }
  if (typeof request.max_tokens === "number") body.max_completion_tokens = request.max_tokens
  if (typeof request.temperature === "number") body.temperature = request.temperature
  if (typeof request.top_p === "number") body.top_p = request.top_p
  if (typeof request.top_k === "number" && options.chatExtensions?.includes("top_k") === true) body.top_k = request.top_k
  if (Array.isArray(request.stop_sequences) && request.stop_sequences.length > 0) body.stop = request.stop_sequences
  if (isRecord(request.metadata) && typeof request.metadata.user_id === "string") body.user = request.metadata.user_id

  const tools = translateTools(request.tools)
  if (tools.length > 0) body.tools = tools
  Object.assign(body, translateToolChoice(request.tool_choice))

  const thinking = request.thinking
  if (isRecord(thinking) && thinking.type === "enabled" && typeof thinking.budget_tokens === "number") {
    body.reasoning_effort = effortForBudget(thinking.budget_tokens)
  }

  const format = isRecord(request.output_config) ? request.output_config.format : undefined
  if (isRecord(format) && format.type === "json_schema" && isRecord(format.schema)) {
    body.response_format = { type: "json_schema", json_schema: { name: "response", schema: format.schema } }
  }

  if (request.stream === true) {
    body.stream = true
    // Anthropic streams always end with usage, so the OpenAI stream must carry it too.
    body.stream_options = { include_usage: true }
  }
  return body as ChatRequest
}

// ---------------------------------------------------------------------------
// System
// ---------------------------------------------------------------------------

const systemMessages = (system: CountTokensRequest["system"]): Array<ChatMessage> => {
  if (system === undefined || system === null) return []
  if (typeof system === "string") return system === "" ? [] : [{ role: "system", content: system }]
  const parts = system.map((block, index) => {
    const param = `system[${index}]`
    if (block.type !== "text" || typeof block.text !== "string") {
      throw invalidField(`${param}.type`, `Invalid ${param}.type '${block.type}': system accepts only text blocks.`)
    }
    return textPart(block.text, block.cache_control)
  })
  if (parts.length === 0) return []
  return [{ role: "system", content: joinTextIfPlain(parts) }]
}

// Plain text parts become one string, which every OpenAI-compatible server
// accepts. Parts with cache_control stay parts to keep their breakpoints.
const joinTextIfPlain = (parts: ReadonlyArray<ContentPart>): string | ReadonlyArray<ContentPart> =>
  parts.every((part) => part.type === "text" && part.cache_control === undefined)
    ? parts.map((part) => part.text as string).join("")
    : parts

const textPart = (text: string, cacheControl: unknown): ContentPart =>
  isRecord(cacheControl) ? { type: "text", text, cache_control: cacheControl } : { type: "text", text }

// ---------------------------------------------------------------------------
// User turns
// ---------------------------------------------------------------------------

const userMessages = (content: string | ReadonlyArray<ContentPart>, param: string): Array<ChatMessage> => {
  if (typeof content === "string") return [{ role: "user", content }]
  const toolMessages: Array<ChatMessage> = []
  const parts: Array<ContentPart> = []
  content.forEach((block, index) => {
    const blockParam = `${param}.content[${index}]`
    if (block.type === "tool_result") toolMessages.push(toolMessage(block, blockParam))
    else parts.push(userPart(block, blockParam))
  })
  if (parts.length === 0) return toolMessages
  return [...toolMessages, { role: "user", content: joinTextIfPlain(parts) }]
}

const userPart = (block: ContentPart, param: string): ContentPart => {
  switch (block.type) {
    case "text":
      if (typeof block.text !== "string") throw invalidField(`${param}.text`, `Invalid ${param}.text: expected a string.`)
      return textPart(block.text, block.cache_control)
    case "image":
      return imagePart(block, param)
    case "document":
      return filePart(block, param)
    default:
      throw invalidField(
        `${param}.type`,
        `Invalid ${param}.type '${block.type}': user turns sent to this model accept text, image, document and tool_result blocks.`,
        "unsupported_content_type"
      )
  }
}

const withCacheControl = (part: ContentPart, block: ContentPart): ContentPart =>
  isRecord(block.cache_control) ? { ...part, cache_control: block.cache_control } : part

const imagePart = (block: ContentPart, param: string): ContentPart => {
  const source = isRecord(block.source) ? block.source : {}
  if (source.type === "base64" && typeof source.media_type === "string" && typeof source.data === "string") {
    const url = formatBase64DataUrl({ mediaType: source.media_type, data: source.data })
    return withCacheControl({ type: "image_url", image_url: { url } }, block)
  }
  if (source.type === "url" && typeof source.url === "string") {
    return withCacheControl({ type: "image_url", image_url: { url: source.url } }, block)
  }
  throw invalidField(`${param}.source`, `Invalid ${param}.source: expected a base64 or url image source.`, "unsupported_content_type")
}

const filePart = (block: ContentPart, param: string): ContentPart => {
  const source = isRecord(block.source) ? block.source : {}
  const file: Record<string, unknown> = {}
  if (typeof block.title === "string") file.filename = block.title

  if (source.type === "base64" && typeof source.media_type === "string" && typeof source.data === "string") {
    file.file_data = formatBase64DataUrl({ mediaType: source.media_type, data: source.data })
  } else if (source.type === "text" && typeof source.data === "string") {
    file.file_data = formatBase64DataUrl({ mediaType: "text/plain", data: encodeBase64Text(source.data) })
  } else {
    throw invalidField(
      `${param}.source`,
      `Invalid ${param}.source: only base64 and text document sources can be sent to this model.`,
      "unsupported_content_type"
    )
  }
  return withCacheControl({ type: "file", file }, block)
}

const toolMessage = (block: ContentPart, param: string): ChatMessage => {
  if (typeof block.tool_use_id !== "string") {
    throw invalidField(`${param}.tool_use_id`, `Missing ${param}.tool_use_id: expected the id of the tool_use block whose result it carries.`)
  }
  const toolCallId = splitToolUseId(block.tool_use_id).id
  const content = block.content
  if (content === undefined || content === null) return { role: "tool", tool_call_id: toolCallId, content: "" }
  if (typeof content === "string") return { role: "tool", tool_call_id: toolCallId, content }
  if (!Array.isArray(content)) throw invalidField(`${param}.content`, `Invalid ${param}.content: expected a string or an array of blocks.`)
  const parts = (content as ReadonlyArray<ContentPart>).map((part, index) => {
    const partParam = `${param}.content[${index}]`
    if (part.type === "text" || part.type === "image") return userPart(part, partParam)
    throw invalidField(`${partParam}.type`, `Invalid ${partParam}.type '${part.type}': tool results accept text and image blocks.`)
  })
  return { role: "tool", tool_call_id: toolCallId, content: joinTextIfPlain(parts) }
}

// ---------------------------------------------------------------------------
// Assistant turns
// ---------------------------------------------------------------------------

const assistantMessage = (content: string | ReadonlyArray<ContentPart>, param: string): ChatMessage => {
  if (typeof content === "string") return { role: "assistant", content }

  const parts: Array<ContentPart> = []
  const toolCalls: Array<ToolCall> = []
  const thinkingBlocks: Array<SignedThinkingBlock> = []
  let reasoning: string | undefined

  content.forEach((block, index) => {
    const blockParam = `${param}.content[${index}]`
    if (block.type === "text" && typeof block.text === "string") {
      parts.push(textPart(block.text, block.cache_control))
    } else if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
      const { id, signature } = splitToolUseId(block.id)
      const call: ToolCall = { id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } }
      toolCalls.push(signature === undefined ? call : { ...call, ...signature })
    } else if (block.type === "thinking" && typeof block.thinking === "string" && typeof block.signature === "string") {
      reasoning = (reasoning ?? "") + block.thinking
      thinkingBlocks.push({ type: "thinking", thinking: block.thinking, signature: block.signature })
    } else if (block.type === "redacted_thinking" && typeof block.data === "string") {
      thinkingBlocks.push({ type: "redacted_thinking", data: block.data })
    } else {
      throw invalidField(
        `${blockParam}.type`,
        `Invalid ${blockParam}.type '${block.type}': assistant turns sent to this model accept text, tool_use and thinking blocks.`,
        "unsupported_content_type"
      )
    }
  })

  const message: Record<string, unknown> = {
    role: "assistant",
    content: parts.length === 0 ? null : joinTextIfPlain(parts)
  }
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  if (reasoning !== undefined) message.reasoning_content = reasoning
  if (thinkingBlocks.length > 0) message.thinking_blocks = thinkingBlocks
  return message as ChatMessage
}

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

/** Custom tools → function tools. Anthropic's server tools (web search, code execution) run on Anthropic only and are rejected. */
const translateTools = (tools: unknown): Array<Record<string, unknown>> => {
  if (tools === undefined || tools === null) return []
  if (!Array.isArray(tools)) throw invalidField("tools", "Invalid tools: expected an array.")
  return tools.map((tool: unknown, index) => {
    const param = `tools[${index}]`
    if (!isRecord(tool) || typeof tool.name !== "string") throw invalidField(`${param}.name`, `Missing ${param}.name.`)
    if (tool.type !== undefined && tool.type !== "custom") {
      throw invalidField(
        `${param}.type`,
        `Invalid ${param}.type '${String(tool.type)}': server tools run only on Anthropic and cannot be sent to this model.`,
        "unsupported_parameter"
      )
    }
    const fn: Record<string, unknown> = { name: tool.name, parameters: tool.input_schema ?? { type: "object", properties: {} } }
    if (typeof tool.description === "string") fn.description = tool.description
    const translated: Record<string, unknown> = { type: "function", function: fn }
    if (isRecord(tool.cache_control)) translated.cache_control = tool.cache_control
    return translated
  })
}

const toolChoiceByType: Readonly<Record<string, string>> = { auto: "auto", any: "required", none: "none" }

const translateToolChoice = (choice: unknown): Record<string, unknown> => {
  if (choice === undefined || choice === null) return {}
  if (!isRecord(choice) || typeof choice.type !== "string") {
    throw invalidField("tool_choice", "Invalid tool_choice: expected an object with a type.")
  }
  const parallel = choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {}
  if (choice.type === "tool") {
    if (typeof choice.name !== "string") throw invalidField("tool_choice.name", "Missing tool_choice.name for tool_choice type 'tool'.")
    return { tool_choice: { type: "function", function: { name: choice.name } }, ...parallel }
  }
  const mapped = toolChoiceByType[choice.type]
  if (mapped === undefined) {
    throw invalidField("tool_choice.type", `Invalid tool_choice.type '${choice.type}': expected auto, any, none or tool.`)
  }
  return { tool_choice: mapped, ...parallel }
}
