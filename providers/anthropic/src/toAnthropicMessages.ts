/**
 * OpenAI chat messages → Anthropic `system` blocks and alternating user and
 * assistant turns, the message part of `toAnthropicRequest`.
 */
import type { ChatMessage } from "@fluxen/sdk"
import { decodeBase64Text, parseBase64DataUrl } from "./dataUrl.js"
import type {
  CacheControl,
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  MessageParam,
  TextBlock,
  ToolResultBlock,
  ToolUseBlock
} from "./MessagesApi.js"
import { readThinkingBlocks } from "./thinking.js"
import { invalidField, isRecord } from "./validation.js"
import { wireToolUseId } from "./wireToolUseId.js"

interface Turn {
  readonly role: "user" | "assistant"
  readonly content: Array<ContentBlock>
}

/**
 * Collects system and developer messages, in order, into `system`, and
 * turns the rest into alternating user and assistant turns. Consecutive
 * messages of the same Anthropic role merge into one turn, so consecutive
 * tool results share one user turn. A message that yields no content block
 * (an empty string) is left out.
 */
export const translateMessages = (
  messages: ReadonlyArray<ChatMessage>
): { readonly system: Array<TextBlock>; readonly messages: Array<MessageParam> } => {
  const system: Array<TextBlock> = []
  const turns: Array<Turn> = []

  const append = (role: Turn["role"], blocks: ReadonlyArray<ContentBlock>): void => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...blocks)
    else turns.push({ role, content: [...blocks] })
  }

  messages.forEach((message, index) => {
    const param = `messages[${index}]`
    switch (message.role) {
      case "system":
      case "developer":
        system.push(...withMessageCacheControl(message, systemBlocks(message, param)))
        return
      case "user":
        append("user", withMessageCacheControl(message, userBlocks(message.content, `${param}.content`)))
        return
      case "assistant":
        append("assistant", withMessageCacheControl(message, assistantBlocks(message, param)))
        return
      case "tool":
        append("user", withMessageCacheControl(message, [toolResultBlock(message, param)]))
        return
      case "function":
        throw invalidField(
          `${param}.role`,
          `Invalid ${param}.role 'function': the deprecated function-calling messages are not supported. Send tool messages with a tool_call_id.`
        )
    }
  })

  if (turns.length === 0) {
    throw invalidField("messages", "Invalid messages: at least one user or assistant message is required.")
  }
  return { system, messages: turns.map(toolResultsFirst) }
}

// Anthropic requires a user turn's tool_result blocks to precede its other blocks.
const toolResultsFirst = (turn: Turn): MessageParam => {
  if (turn.role !== "user") return turn
  const results = turn.content.filter((block) => block.type === "tool_result")
  if (results.length === 0 || results.length === turn.content.length) return turn
  return { role: "user", content: [...results, ...turn.content.filter((block) => block.type !== "tool_result")] }
}

export const readCacheControl = (value: unknown): CacheControl | undefined =>
  isRecord(value) && typeof value.type === "string" ? (value as CacheControl) : undefined

/**
 * Moves a message-level `cache_control` (a convention of several
 * OpenAI-compatible gateways) onto the message's last block, where Anthropic
 * expects the cache breakpoint.
 */
const withMessageCacheControl = <B extends ContentBlock>(message: ChatMessage, blocks: Array<B>): Array<B> => {
  const cacheControl = readCacheControl(message.cache_control)
  const last = blocks[blocks.length - 1]
  if (cacheControl === undefined || last === undefined) return blocks
  return [...blocks.slice(0, -1), { ...last, cache_control: cacheControl }]
}

const textBlock = (text: string, cacheControl: unknown): TextBlock => {
  const cache = readCacheControl(cacheControl)
  return cache === undefined ? { type: "text", text } : { type: "text", text, cache_control: cache }
}

const partText = (part: Record<string, unknown>, param: string): string => {
  if (typeof part.text !== "string") throw invalidField(`${param}.text`, `Invalid ${param}.text: expected a string.`)
  return part.text
}

const systemBlocks = (message: ChatMessage, param: string): Array<TextBlock> => {
  const content = message.content
  if (typeof content === "string") return content === "" ? [] : [textBlock(content, undefined)]
  if (content === null || content === undefined) return []
  return content.flatMap((part, index) => {
    const partParam = `${param}.content[${index}]`
    if (part.type !== "text") {
      throw invalidField(`${partParam}.type`, `Invalid ${partParam}.type '${part.type}': ${message.role} messages accept only text parts.`)
    }
    const text = partText(part, partParam)
    return text === "" ? [] : [textBlock(text, part.cache_control)]
  })
}

const userBlocks = (content: ChatMessage["content"], param: string): Array<TextBlock | ImageBlock | DocumentBlock> => {
  if (typeof content === "string") return content === "" ? [] : [textBlock(content, undefined)]
  if (content === null || content === undefined) return []
  return content.flatMap((part, index): Array<TextBlock | ImageBlock | DocumentBlock> => {
    const partParam = `${param}[${index}]`
    switch (part.type) {
      case "text": {
        const text = partText(part, partParam)
        return text === "" ? [] : [textBlock(text, part.cache_control)]
      }
      case "image_url":
        return [imageBlock(part, partParam)]
      case "file":
        return [documentBlock(part, partParam)]
      default:
        throw invalidField(
          `${partParam}.type`,
          `Invalid ${partParam}.type '${part.type}': Anthropic models accept text, image_url and file parts.`,
          "unsupported_content_type"
        )
    }
  })
}

const imageBlock = (part: Record<string, unknown>, param: string): ImageBlock => {
  const image = part.image_url
  const url = typeof image === "string" ? image : isRecord(image) ? image.url : undefined
  if (typeof url !== "string") {
    throw invalidField(`${param}.image_url.url`, `Invalid ${param}.image_url.url: expected a string.`)
  }
  const cache = readCacheControl(part.cache_control)
  const withCache = (block: ImageBlock): ImageBlock => (cache === undefined ? block : { ...block, cache_control: cache })

  const inline = parseBase64DataUrl(url)
  if (inline !== undefined) {
    return withCache({ type: "image", source: { type: "base64", media_type: inline.mediaType, data: inline.data } })
  }
  if (/^https?:\/\//i.test(url)) return withCache({ type: "image", source: { type: "url", url } })
  throw invalidField(
    `${param}.image_url.url`,
    `Invalid ${param}.image_url.url: expected an http(s) URL or a base64 data URL.`
  )
}

/** OpenAI `file` parts with inline data: PDFs become base64 documents, plain text becomes a text document. */
const documentBlock = (part: Record<string, unknown>, param: string): DocumentBlock => {
  const file = isRecord(part.file) ? part.file : {}
  if (typeof file.file_data !== "string") {
    throw invalidField(
      `${param}.file.file_data`,
      `Invalid ${param}.file: only inline files (file_data as a base64 data URL) are supported, not uploaded file ids.`,
      "unsupported_content_type"
    )
  }
  const inline = parseBase64DataUrl(file.file_data)
  const cache = readCacheControl(part.cache_control)
  const extra: Record<string, unknown> = {}
  if (cache !== undefined) extra.cache_control = cache
  if (typeof file.filename === "string") extra.title = file.filename

  if (inline?.mediaType === "application/pdf") {
    return { type: "document", source: { type: "base64", media_type: "application/pdf", data: inline.data }, ...extra }
  }
  if (inline?.mediaType === "text/plain") {
    const text = decodeBase64Text(inline.data)
    return { type: "document", source: { type: "text", media_type: "text/plain", data: text }, ...extra }
  }
  throw invalidField(
    `${param}.file.file_data`,
    `Invalid ${param}.file.file_data: expected a base64 data URL of type application/pdf or text/plain.`,
    "unsupported_content_type"
  )
}

/**
 * Builds an assistant turn: its signed thinking blocks first (Anthropic
 * requires them at the start of the turn), then its text, then one
 * `tool_use` block per tool call. `reasoning_content` alone is dropped, because Anthropic
 * accepts thinking only with the signature that `thinking_blocks` carries.
 */
const assistantBlocks = (message: ChatMessage, param: string): Array<ContentBlock> => {
  if (message.function_call !== undefined && message.function_call !== null) {
    throw invalidField(
      `${param}.function_call`,
      `Invalid ${param}.function_call: the deprecated function-calling fields are not supported. Use tool_calls.`
    )
  }
  const blocks: Array<ContentBlock> = [...readThinkingBlocks(message.thinking_blocks, `${param}.thinking_blocks`)]

  const content = message.content
  if (typeof content === "string") {
    if (content !== "") blocks.push(textBlock(content, undefined))
  } else if (Array.isArray(content)) {
    content.forEach((part, index) => {
      const partParam = `${param}.content[${index}]`
      if (part.type === "text") {
        const text = partText(part, partParam)
        if (text !== "") blocks.push(textBlock(text, part.cache_control))
      } else if (part.type === "refusal" && typeof part.refusal === "string") {
        if (part.refusal !== "") blocks.push(textBlock(part.refusal, part.cache_control))
      } else {
        throw invalidField(`${partParam}.type`, `Invalid ${partParam}.type '${part.type}': assistant messages accept text and refusal parts.`)
      }
    })
  }

  message.tool_calls?.forEach((call, index) => {
    blocks.push(toolUseBlock(call, `${param}.tool_calls[${index}]`))
  })
  return blocks
}

const toolUseBlock = (call: NonNullable<ChatMessage["tool_calls"]>[number], param: string): ToolUseBlock => {
  const argumentsParam = `${param}.function.arguments`
  const text = call.function.arguments
  let input: unknown = {}
  if (text.trim() !== "") {
    try {
      input = JSON.parse(text)
    } catch {
      throw invalidField(argumentsParam, `Invalid ${argumentsParam}: expected a JSON object, got text that is not valid JSON.`)
    }
  }
  if (!isRecord(input)) throw invalidField(argumentsParam, `Invalid ${argumentsParam}: expected a JSON object.`)
  return { type: "tool_use", id: wireToolUseId(call.id), name: call.function.name, input }
}

const toolResultBlock = (message: ChatMessage, param: string): ToolResultBlock => {
  if (typeof message.tool_call_id !== "string" || message.tool_call_id === "") {
    throw invalidField(`${param}.tool_call_id`, `Missing ${param}.tool_call_id: a tool message must name the tool call whose result it carries.`)
  }
  const toolUseId = wireToolUseId(message.tool_call_id)
  const content = message.content
  if (typeof content === "string") {
    return content === ""
      ? { type: "tool_result", tool_use_id: toolUseId }
      : { type: "tool_result", tool_use_id: toolUseId, content }
  }
  const blocks = userBlocks(content, `${param}.content`).map((block): TextBlock | ImageBlock => {
    if (block.type === "document") {
      throw invalidField(`${param}.content`, `Invalid ${param}.content: tool results accept text and image parts.`)
    }
    return block
  })
  return blocks.length === 0
    ? { type: "tool_result", tool_use_id: toolUseId }
    : { type: "tool_result", tool_use_id: toolUseId, content: blocks }
}
