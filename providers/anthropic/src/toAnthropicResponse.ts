/**
 * OpenAI chat completion → Anthropic Messages response, for an
 * Anthropic-shaped ingress in front of providers that respond in OpenAI's
 * shape. Only the first choice is used, since a Messages response has one.
 */
import { emptyUsage, UpstreamProtocolError, usageFromOpenAI, type ChatCompletion } from "@fluxen/sdk"
import { Effect } from "effect"
import { toStopReason } from "./finishReasons.js"
import type { ContentBlock, MessageResponse } from "./MessagesApi.js"
import { toMessageId } from "./messageIds.js"
import { signedThinkingBlocksIn } from "./thinking.js"
import { toToolUseId } from "./toolUseIds.js"
import { usageToAnthropic } from "./usage.js"
import { isRecord } from "./validation.js"

export interface ToAnthropicResponseOptions {
  /** The provider that produced the completion, named in errors. */
  readonly provider: string
}

/**
 * Translates a chat completion: thinking first (the signed
 * `thinking_blocks`, or else `reasoning_content` as a thinking block with an
 * empty signature), then the text, then one `tool_use` block per tool call,
 * whose id also carries a Gemini thought signature (see `toolUseIds.ts`).
 * Fails with an `UpstreamProtocolError` when tool call arguments are not a
 * JSON object, which Anthropic's `tool_use.input` must be.
 */
export const toAnthropicResponse = (
  completion: ChatCompletion,
  options: ToAnthropicResponseOptions
): Effect.Effect<MessageResponse, UpstreamProtocolError> =>
  Effect.suspend(() => {
    const choice = completion.choices[0]
    const message = choice?.message
    const content: Array<ContentBlock> = []

    const signed = signedThinkingBlocksIn(message?.thinking_blocks)
    if (signed.length > 0) content.push(...signed)
    else if (typeof message?.reasoning_content === "string" && message.reasoning_content !== "") {
      content.push({ type: "thinking", thinking: message.reasoning_content, signature: "" })
    }

    if (typeof message?.content === "string" && message.content !== "") content.push({ type: "text", text: message.content })
    if (typeof message?.refusal === "string" && message.refusal !== "") content.push({ type: "text", text: message.refusal })

    for (const call of message?.tool_calls ?? []) {
      const input = parseArguments(call.function.arguments)
      if (input === undefined) {
        return Effect.fail(
          new UpstreamProtocolError({
            provider: options.provider,
            message: `The upstream returned arguments for tool call '${call.id}' that are not a JSON object.`
          })
        )
      }
      content.push({ type: "tool_use", id: toToolUseId(call), name: call.function.name, input })
    }

    return Effect.succeed({
      id: toMessageId(completion.id),
      type: "message",
      role: "assistant",
      model: completion.model,
      content,
      stop_reason: toStopReason(choice?.finish_reason),
      stop_sequence: null,
      usage: usageToAnthropic(usageFromOpenAI(completion.usage) ?? emptyUsage)
    } satisfies MessageResponse)
  })

// An empty string means no arguments, and anything else must parse to an object.
const parseArguments = (text: string): Record<string, unknown> | undefined => {
  if (text.trim() === "") return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return isRecord(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}
