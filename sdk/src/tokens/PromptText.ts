/**
 * The countable parts of a request's prompt: the strings to tokenize and the
 * tokens known without tokenizing (message framing, token-id inputs).
 *
 * Message framing follows ChatML as gpt-tokenizer 4 encodes it: every
 * message is `<|im_start|>{role}<|im_sep|>{content}<|im_end|>`, three special
 * tokens plus the role, and the reply is primed with
 * `<|im_start|>assistant<|im_sep|>`. OpenAI does not publish its current
 * framing, and tool definitions are counted as their JSON, which differs from
 * the format the API renders them in, so the result is an estimate.
 *
 * NOTE: images, audio and files in content parts are not counted, although
 * providers bill them as input tokens.
 */
import type { CanonicalRequest, Endpoint } from "../Hooks.js"

/** Special tokens around each message: `<|im_start|>`, `<|im_sep|>` and `<|im_end|>`. */
export const MESSAGE_FRAMING_TOKENS = 3

/** Tokens that prime the reply: `<|im_start|>`, `assistant` and `<|im_sep|>`. */
export const REPLY_PRIMING_TOKENS = 3

export interface PromptText {
  /** Strings to tokenize with the model's encoding. */
  readonly texts: ReadonlyArray<string>
  /** Tokens counted without the tokenizer. */
  readonly fixedTokens: number
}

/** The endpoints whose request bodies {@link promptTextOf} reads. */
export const estimatedEndpoints: ReadonlySet<Endpoint> = new Set<Endpoint>(["chat", "completions", "embeddings", "responses", "messages"])

type Json = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** Collects the text of a message's content: a string, or the `text` of each part that has one. */
const pushContent = (texts: Array<string>, content: unknown): void => {
  if (typeof content === "string") {
    texts.push(content)
    return
  }
  if (!Array.isArray(content)) return
  for (const part of content) {
    if (isRecord(part) && typeof part.text === "string") texts.push(part.text)
  }
}

/** Collects a function call's name and argument string (`tool_calls[].function`, `function_call`, Responses items). */
const pushFunctionCall = (texts: Array<string>, call: unknown): void => {
  if (!isRecord(call)) return
  if (typeof call.name === "string") texts.push(call.name)
  if (typeof call.arguments === "string") texts.push(call.arguments)
}

const pushToolDefinitions = (texts: Array<string>, tools: unknown): void => {
  if (!Array.isArray(tools)) return
  for (const tool of tools) texts.push(JSON.stringify(tool))
}

/** Collects the role, name, content and function calls of a chat message or a Responses message item. */
const pushMessage = (texts: Array<string>, message: Json): void => {
  if (typeof message.role === "string") texts.push(message.role)
  if (typeof message.name === "string") texts.push(message.name)
  pushContent(texts, message.content)
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (isRecord(call)) pushFunctionCall(texts, call.function)
    }
  }
  pushFunctionCall(texts, message.function_call)
}

const chatPrompt = (request: Json): PromptText => {
  const texts: Array<string> = []
  const messages = Array.isArray(request.messages) ? request.messages : []
  let messageCount = 0
  for (const message of messages) {
    if (!isRecord(message)) continue
    pushMessage(texts, message)
    messageCount += 1
  }
  pushToolDefinitions(texts, request.tools)
  pushToolDefinitions(texts, request.functions)
  return { texts, fixedTokens: messageCount * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS }
}

/**
 * Reads a completions `prompt` or an embeddings `input`: a string, an array
 * of strings, an array of token ids, or an array of token-id arrays. Token
 * ids count one token each.
 */
const plainInput = (input: unknown): PromptText => {
  if (typeof input === "string") return { texts: [input], fixedTokens: 0 }
  if (!Array.isArray(input)) return { texts: [], fixedTokens: 0 }
  const texts: Array<string> = []
  let fixedTokens = 0
  for (const item of input) {
    if (typeof item === "string") texts.push(item)
    else if (typeof item === "number") fixedTokens += 1
    else if (Array.isArray(item)) fixedTokens += item.length
  }
  return { texts, fixedTokens }
}

/**
 * Reads a Responses API body: `instructions`, `input` as a string or as
 * items (messages, function calls and their outputs), and `tools`.
 */
const responsesPrompt = (request: Json): PromptText => {
  const texts: Array<string> = []
  let messageCount = 0
  if (typeof request.instructions === "string") {
    texts.push(request.instructions)
    messageCount += 1
  }
  if (typeof request.input === "string") {
    texts.push(request.input)
    messageCount += 1
  } else if (Array.isArray(request.input)) {
    for (const item of request.input) {
      if (!isRecord(item)) continue
      messageCount += 1
      if (item.type === "function_call") pushFunctionCall(texts, item)
      else if (item.type === "function_call_output") pushContent(texts, item.output)
      else pushMessage(texts, item)
    }
  }
  pushToolDefinitions(texts, request.tools)
  return { texts, fixedTokens: messageCount * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS }
}

/** Collects the text of an Anthropic content block: text, a tool call's name and input, or a tool result. */
const pushMessagesBlock = (texts: Array<string>, block: unknown): void => {
  if (!isRecord(block)) return
  if (typeof block.text === "string") texts.push(block.text)
  if (block.type === "tool_use") {
    if (typeof block.name === "string") texts.push(block.name)
    texts.push(JSON.stringify(block.input ?? {}))
  }
  if (block.type === "tool_result") pushContent(texts, block.content)
}

/**
 * Reads an Anthropic Messages body: `system` as a string or text blocks, the
 * messages' text, tool calls and tool results, and `tools`. The framing is
 * counted as for chat, which Anthropic's tokenizer does not share, so the
 * result is an estimate.
 */
const messagesPrompt = (request: Json): PromptText => {
  const texts: Array<string> = []
  let messageCount = 0
  if (request.system !== undefined && request.system !== null) {
    pushContent(texts, request.system)
    messageCount += 1
  }
  const messages = Array.isArray(request.messages) ? request.messages : []
  for (const message of messages) {
    if (!isRecord(message)) continue
    messageCount += 1
    if (typeof message.role === "string") texts.push(message.role)
    if (typeof message.content === "string") texts.push(message.content)
    else if (Array.isArray(message.content)) for (const block of message.content) pushMessagesBlock(texts, block)
  }
  pushToolDefinitions(texts, request.tools)
  return { texts, fixedTokens: messageCount * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS }
}

/** Extracts the countable prompt of a request, or returns undefined for endpoints not in {@link estimatedEndpoints}. */
export const promptTextOf = (endpoint: Endpoint, request: CanonicalRequest): PromptText | undefined => {
  const body: Json = request
  switch (endpoint) {
    case "chat":
      return chatPrompt(body)
    case "completions":
      return plainInput(body.prompt)
    case "embeddings":
      return plainInput(body.input)
    case "responses":
      return responsesPrompt(body)
    case "messages":
      return messagesPrompt(body)
    case "count_tokens":
      return undefined
  }
}
