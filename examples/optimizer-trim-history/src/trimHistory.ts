/**
 * Trimming a conversation to a token budget. System and developer messages
 * are always kept. The other messages are grouped into turns, each starting
 * at a user message and holding the replies and tool results that follow it,
 * so a tool result is never separated from the assistant message that called
 * the tool. The latest turns are kept, as many as fit, newest first; older
 * ones are dropped whole.
 */
import type { ChatMessage } from "@fluxen/sdk"

export interface TrimResult {
  readonly messages: ReadonlyArray<ChatMessage>
  /** How many messages were dropped. */
  readonly removed: number
  /** The estimated prompt tokens before and after trimming. */
  readonly tokensBefore: number
  readonly tokensAfter: number
  /** True when even the latest turn alone is over the budget; it is kept anyway. */
  readonly overBudget: boolean
}

const isPinned = (message: ChatMessage): boolean => message.role === "system" || message.role === "developer"

/**
 * Returns the messages that fit in `budget` tokens. `fixedTokens` is the cost
 * of what is sent regardless (tool definitions, reply priming). The latest
 * turn is always kept, even when it alone exceeds the budget, because
 * dropping it would drop the question being asked.
 */
export const trimHistory = (
  messages: ReadonlyArray<ChatMessage>,
  budget: number,
  countTokens: (message: ChatMessage) => number,
  fixedTokens: number
): TrimResult => {
  const counts = messages.map(countTokens)
  const tokensBefore = fixedTokens + counts.reduce((sum, count) => sum + count, 0)
  if (tokensBefore <= budget) return { messages, removed: 0, tokensBefore, tokensAfter: tokensBefore, overBudget: false }

  // Turns as lists of message indexes. Messages before the first user message form the first turn.
  const turns: Array<Array<number>> = []
  let pinnedTokens = fixedTokens
  messages.forEach((message, index) => {
    if (isPinned(message)) {
      pinnedTokens += counts[index]!
      return
    }
    if (message.role === "user" || turns.length === 0) turns.push([])
    turns[turns.length - 1]!.push(index)
  })

  const kept = new Set<number>()
  let tokensAfter = pinnedTokens
  for (let turn = turns.length - 1; turn >= 0; turn--) {
    const indexes = turns[turn]!
    const turnTokens = indexes.reduce((sum, index) => sum + counts[index]!, 0)
    const isLatest = turn === turns.length - 1
    if (!isLatest && tokensAfter + turnTokens > budget) break
    for (const index of indexes) kept.add(index)
    tokensAfter += turnTokens
  }

  const trimmed = messages.filter((message, index) => isPinned(message) || kept.has(index))
  return {
    messages: trimmed,
    removed: messages.length - trimmed.length,
    tokensBefore,
    tokensAfter,
    overBudget: tokensAfter > budget
  }
}
