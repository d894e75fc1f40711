/**
 * Extended thinking: OpenAI's `reasoning_effort` as an Anthropic thinking
 * budget, and the thinking blocks that travel in OpenAI-shaped messages.
 *
 * A chat completion's assistant message carries the thinking text in
 * `reasoning_content` and the signed blocks in `thinking_blocks`. Anthropic
 * requires the signed blocks back, unchanged and first in the assistant turn,
 * when a later request continues a tool loop, so a client that sends the
 * assistant message back as it received it keeps thinking working.
 */
import { InvalidRequestError } from "@fluxen/sdk"
import type { RedactedThinkingBlock, ThinkingBlock } from "./MessagesApi.js"
import { isRecord } from "./validation.js"

/**
 * Thinking budget, in tokens, for each OpenAI `reasoning_effort`. Anthropic
 * accepts budgets from 1024 tokens. `none` turns thinking off.
 */
export const thinkingBudgetByEffort: Readonly<Record<string, number | null>> = {
  none: null,
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384
}

/** Maps a thinking budget back to the smallest effort whose budget covers it (above `high`'s budget: `high`). */
export const effortForBudget = (budgetTokens: number): "low" | "medium" | "high" => {
  if (budgetTokens <= thinkingBudgetByEffort.low!) return "low"
  if (budgetTokens <= thinkingBudgetByEffort.medium!) return "medium"
  return "high"
}

/**
 * Returns the budget for an effort: null for `none`, and an
 * `InvalidRequestError` naming the field for a value missing from the table.
 */
export const thinkingBudgetFor = (effort: string): number | null => {
  if (!Object.hasOwn(thinkingBudgetByEffort, effort)) {
    const allowed = Object.keys(thinkingBudgetByEffort).join(", ")
    throw new InvalidRequestError({
      message: `Invalid reasoning_effort '${effort}': expected one of ${allowed}.`,
      param: "reasoning_effort"
    })
  }
  return thinkingBudgetByEffort[effort]!
}

export type SignedThinkingBlock = ThinkingBlock | RedactedThinkingBlock

const toSignedBlock = (block: unknown): SignedThinkingBlock | undefined => {
  if (isRecord(block) && block.type === "thinking" && typeof block.thinking === "string" && typeof block.signature === "string") {
    return { type: "thinking", thinking: block.thinking, signature: block.signature }
  }
  if (isRecord(block) && block.type === "redacted_thinking" && typeof block.data === "string") {
    return { type: "redacted_thinking", data: block.data }
  }
  return undefined
}

/**
 * Reads the `thinking_blocks` of an assistant message sent back by a client.
 * Each entry must be a `thinking` block with string `thinking` and
 * `signature`, or a `redacted_thinking` block with string `data`.
 */
export const readThinkingBlocks = (value: unknown, param: string): Array<SignedThinkingBlock> => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) {
    throw new InvalidRequestError({ message: `Invalid ${param}: expected an array of thinking blocks.`, param })
  }
  return value.map((block, index): SignedThinkingBlock => {
    const signed = toSignedBlock(block)
    if (signed !== undefined) return signed
    const blockParam = `${param}[${index}]`
    throw new InvalidRequestError({
      message:
        `Invalid ${blockParam}: expected {type: "thinking", thinking, signature} or {type: "redacted_thinking", data}, ` +
        "as returned in an earlier response.",
      param: blockParam
    })
  })
}

/**
 * Keeps the entries of `thinking_blocks` that have the signed shape and
 * skips the rest, for reading upstream output: another provider may use the
 * field differently, and its thinking text still arrives in
 * `reasoning_content`.
 */
export const signedThinkingBlocksIn = (value: unknown): Array<SignedThinkingBlock> =>
  Array.isArray(value) ? value.flatMap((block) => toSignedBlock(block) ?? []) : []
