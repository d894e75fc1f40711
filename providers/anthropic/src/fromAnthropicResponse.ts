/**
 * Anthropic Messages response → OpenAI chat completion.
 *
 * Text blocks concatenate into `content`, `tool_use` blocks become
 * `tool_calls`, and thinking goes into two fields outside OpenAI's schema:
 * `reasoning_content` (the thinking text) and `thinking_blocks` (the signed
 * blocks a client sends back to continue a tool loop).
 */
import type { ChatCompletion, ToolCall } from "@fluxen/sdk"
import { toFinishReason } from "./finishReasons.js"
import type { MessageResponse } from "./MessagesApi.js"
import type { SignedThinkingBlock } from "./thinking.js"
import { usageFromAnthropic, usageToChatCompletionUsage } from "./usage.js"
import { isRecord } from "./validation.js"

export interface FromAnthropicResponseOptions {
  /** The completion's `created` time in Unix seconds, since Anthropic sends none. Default: now. */
  readonly created?: number
}

/** Tells whether a parsed body has the fields of a Messages response that the translation reads. */
export const isMessageResponse = (value: unknown): value is MessageResponse =>
  isRecord(value) &&
  typeof value.id === "string" &&
  typeof value.model === "string" &&
  Array.isArray(value.content) &&
  isRecord(value.usage)

/**
 * Translates a Messages response. Block types with no OpenAI counterpart
 * (server tool calls and their results, for example) are left out.
 */
export const fromAnthropicResponse = (message: MessageResponse, options?: FromAnthropicResponseOptions): ChatCompletion => {
  let text: string | null = null
  let reasoning: string | null = null
  const thinkingBlocks: Array<SignedThinkingBlock> = []
  const toolCalls: Array<ToolCall> = []

  for (const block of message.content) {
    if (block.type === "text" && typeof block.text === "string") {
      text = (text ?? "") + block.text
    } else if (block.type === "thinking" && typeof block.thinking === "string") {
      reasoning = (reasoning ?? "") + block.thinking
      thinkingBlocks.push({ type: "thinking", thinking: block.thinking, signature: String(block.signature ?? "") })
    } else if (block.type === "redacted_thinking" && typeof block.data === "string") {
      thinkingBlocks.push({ type: "redacted_thinking", data: block.data })
    } else if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
      toolCalls.push({
        id: block.id,
        type: "function",
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) }
      })
    }
  }

  return {
    id: message.id,
    object: "chat.completion",
    created: options?.created ?? Math.floor(Date.now() / 1000),
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(reasoning !== null ? { reasoning_content: reasoning } : {}),
          ...(thinkingBlocks.length > 0 ? { thinking_blocks: thinkingBlocks } : {})
        },
        finish_reason: toFinishReason(message.stop_reason),
        logprobs: null
      }
    ],
    usage: usageToChatCompletionUsage(usageFromAnthropic(message.usage))
  }
}
