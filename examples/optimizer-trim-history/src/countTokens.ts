/**
 * Token estimates for chat messages, counted with OpenAI's o200k_base
 * encoding from `gpt-tokenizer`. Other providers tokenize differently, so for
 * them the count is an estimate that is usually within a few percent for
 * English text and can be further off for code or other languages.
 */
import type { ChatMessage } from "@fluxen/sdk"
import { countTokens } from "gpt-tokenizer/encoding/o200k_base"

/**
 * Tokens OpenAI's chat format adds around each message (role and separators),
 * and once to prime the reply; both are approximations for other providers.
 */
export const TOKENS_PER_MESSAGE = 3
export const TOKENS_PER_REPLY = 3

const textOfContent = (content: ChatMessage["content"]): string => {
  if (content === undefined || content === null) return ""
  if (typeof content === "string") return content
  // NOTE: only text parts are counted; images, audio and files count as zero tokens.
  return content
    .map((part) => (part.type === "text" && typeof part.text === "string" ? part.text : ""))
    .join("\n")
}

/** Estimates the prompt tokens one message costs. */
export const countMessageTokens = (message: ChatMessage): number => {
  let tokens = TOKENS_PER_MESSAGE + countTokens(message.role) + countTokens(textOfContent(message.content))
  if (message.name != null) tokens += countTokens(message.name)
  for (const call of message.tool_calls ?? []) {
    tokens += countTokens(call.function.name) + countTokens(call.function.arguments)
  }
  return tokens
}

/** Estimates the tokens of text that is sent with every request and cannot be trimmed (tool definitions). */
export const countFixedTokens = (tools: ReadonlyArray<unknown> | undefined): number =>
  TOKENS_PER_REPLY + (tools === undefined || tools.length === 0 ? 0 : countTokens(JSON.stringify(tools)))
