/**
 * Filling in the fields that OpenAI's clients need in streamed tool calls.
 *
 * OpenAI numbers each streamed tool call with `index`, and its first delta
 * carries `type: "function"`. Clients join the deltas of one call by that
 * index, so the OpenAI SDK's stream helper drops a call that has none.
 * Mistral sends each tool call whole, with an `id` but neither field.
 */
export class ToolCallDeltaFields {
  /** Per choice index, the number of tool calls begun so far. */
  private readonly begun = new Map<number, number>()

  /**
   * Adds the missing `index` and `type` to the tool call deltas of one
   * parsed chunk, in place. A delta with an `id` begins the next call, and
   * one without continues the last. Returns true when it changed the chunk.
   */
  fill(chunk: unknown): boolean {
    const choices = (chunk as { choices?: unknown } | null)?.choices
    if (!Array.isArray(choices)) return false
    let changed = false
    for (const choice of choices) {
      const calls = (choice as { delta?: { tool_calls?: unknown } } | null)?.delta?.tool_calls
      if (!Array.isArray(calls)) continue
      const choiceIndex = typeof choice.index === "number" ? choice.index : 0
      for (const call of calls) {
        if (typeof call !== "object" || call === null) continue
        const begins = typeof call.id === "string"
        let count = this.begun.get(choiceIndex) ?? 0
        if (begins) this.begun.set(choiceIndex, ++count)
        if (call.index === undefined) {
          call.index = Math.max(0, count - 1)
          changed = true
        }
        if (call.type === undefined && begins) {
          call.type = "function"
          changed = true
        }
      }
    }
    return changed
  }
}
