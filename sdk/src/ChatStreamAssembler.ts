/**
 * Folds streamed chat completion chunks into one chat completion, the way
 * the OpenAI SDKs do: content and tool-call arguments concatenate, tool
 * calls are keyed by their `index`, the last finish reason and usage win.
 *
 * Fields outside OpenAI's own set reach the message too, because a client
 * sends them back on the next turn. Streamed reasoning text concatenates:
 * `reasoning_content`, or `reasoning` as some OpenAI-compatible servers name
 * it. A list (`thinking_blocks`, `reasoning_details`) adds up its entries.
 * Any other field of a delta or of a tool call keeps its last value, such as
 * Gemini's `extra_content`, which contains its thought signature.
 */
import type { ChatCompletion, ChatCompletionChunk, FinishReason } from "./ChatResponse.js"

interface ToolCallState {
  id: string
  type: "function"
  name: string
  arguments: string
  extra: Record<string, unknown> | undefined
}

interface ChoiceState {
  content: string | null
  refusal: string | null
  toolCalls: Map<number, ToolCallState>
  finishReason: FinishReason | null
  extra: Record<string, unknown> | undefined
}

// Delta fields folded by their own rules. Each other field is copied into the message.
const FOLDED_DELTA_FIELDS = new Set(["role", "content", "refusal", "tool_calls", "function_call"])
// Tool-call fields folded by their own rules. Each other field is copied into the tool call.
const FOLDED_TOOL_CALL_FIELDS = new Set(["index", "id", "type", "function"])

// Extra fields whose text streams in pieces, one piece per delta.
const STREAMED_TEXT_FIELDS = new Set(["reasoning_content", "reasoning"])

/** Adds the fields of `source` outside `folded` to `extra`: streamed text concatenates, lists add up, anything else is replaced. */
const foldExtraFields = (
  extra: Record<string, unknown> | undefined,
  source: Readonly<Record<string, unknown>>,
  folded: ReadonlySet<string>
): Record<string, unknown> | undefined => {
  for (const name in source) {
    if (folded.has(name)) continue
    const value = source[name]
    if (value === undefined || value === null) continue
    extra ??= {}
    const previous = extra[name]
    if (STREAMED_TEXT_FIELDS.has(name) && typeof value === "string" && typeof previous === "string") extra[name] = previous + value
    // NOTE: entries are appended as they come. A server that streams one entry in fragments
    // (one per delta, under the same index) gets one entry per fragment here.
    else if (Array.isArray(value) && Array.isArray(previous)) extra[name] = [...previous, ...value]
    else extra[name] = value
  }
  return extra
}

export class ChatStreamAssembler {
  private id = ""
  private created = 0
  private model = ""
  private systemFingerprint: unknown = undefined
  private usage: ChatCompletion["usage"] = undefined
  private readonly choices = new Map<number, ChoiceState>()

  add(chunk: ChatCompletionChunk): void {
    if (this.id === "" && typeof chunk.id === "string") this.id = chunk.id
    if (this.created === 0 && typeof chunk.created === "number") this.created = chunk.created
    if (this.model === "" && typeof chunk.model === "string") this.model = chunk.model
    if (chunk.system_fingerprint !== undefined) this.systemFingerprint = chunk.system_fingerprint
    if (chunk.usage) this.usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      let state = this.choices.get(choice.index)
      if (state === undefined) {
        state = { content: null, refusal: null, toolCalls: new Map(), finishReason: null, extra: undefined }
        this.choices.set(choice.index, state)
      }
      const delta = choice.delta ?? {}
      if (typeof delta.content === "string") state.content = (state.content ?? "") + delta.content
      if (typeof delta.refusal === "string") state.refusal = (state.refusal ?? "") + delta.refusal
      state.extra = foldExtraFields(state.extra, delta, FOLDED_DELTA_FIELDS)
      for (const call of delta.tool_calls ?? []) {
        // Some servers (Mistral) omit `index`; their calls arrive whole, one per chunk.
        const index = typeof call.index === "number" ? call.index : state.toolCalls.size
        let tool = state.toolCalls.get(index)
        if (tool === undefined) {
          tool = { id: "", type: "function", name: "", arguments: "", extra: undefined }
          state.toolCalls.set(index, tool)
        }
        if (call.id) tool.id = call.id
        if (call.function?.name) tool.name += call.function.name
        if (call.function?.arguments) tool.arguments += call.function.arguments
        tool.extra = foldExtraFields(tool.extra, call as unknown as Readonly<Record<string, unknown>>, FOLDED_TOOL_CALL_FIELDS)
      }
      if (choice.finish_reason) state.finishReason = choice.finish_reason
    }
  }

  /** True when at least one choice arrived and every choice has a finish reason. */
  isComplete(): boolean {
    if (this.choices.size === 0) return false
    for (const choice of this.choices.values()) if (choice.finishReason === null) return false
    return true
  }

  toCompletion(): ChatCompletion {
    const choices = [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, state]) => {
        const toolCalls = [...state.toolCalls.entries()]
          .sort(([a], [b]) => a - b)
          .map(([, call]) => ({ id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments }, ...call.extra }))
        return {
          index,
          message: {
            role: "assistant" as const,
            content: state.content,
            refusal: state.refusal,
            ...state.extra,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {})
          },
          finish_reason: state.finishReason,
          logprobs: null
        }
      })
    return {
      id: this.id,
      object: "chat.completion",
      created: this.created,
      model: this.model,
      choices,
      ...(this.usage ? { usage: this.usage } : {}),
      ...(this.systemFingerprint !== undefined ? { system_fingerprint: this.systemFingerprint } : {})
    }
  }
}
