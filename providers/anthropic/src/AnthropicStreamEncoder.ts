/**
 * OpenAI chat completion chunks → Anthropic stream events, for an
 * Anthropic-shaped ingress in front of providers that stream in OpenAI's
 * shape. Only choice 0 is read, since a Messages stream has one message.
 *
 * Anthropic streams content as numbered blocks that open and close one at a
 * time, while OpenAI deltas may switch between text, reasoning and tool
 * calls freely, so the encoder closes the open block whenever the kind of
 * delta changes:
 * - `reasoning_content` → a `thinking` block. A `thinking_blocks` entry adds
 *   its signature (`signature_delta`) and closes the block. Redacted
 *   thinking becomes a `redacted_thinking` block of its own.
 * - `content` and `refusal` → a `text` block.
 * - each tool call (by its `index`) → a `tool_use` block whose arguments
 *   arrive as `input_json_delta` fragments. Its id also carries a Gemini
 *   thought signature (see `toolUseIds.ts`).
 *
 * OpenAI reports the finish reason and usage before `[DONE]` (usage only
 * when the request set `stream_options.include_usage`), so `message_delta`
 * and `message_stop` are written by `finish()`, which the caller invokes
 * when the upstream stream ends. `message_start` carries the input and cache
 * token counts when the first chunk already reports them, as Gemini's do,
 * and zeros otherwise. Its message id starts with `msg_` (see `messageIds.ts`).
 */
import { UpstreamProtocolError, usageFromOpenAI, type ChatCompletionChunk, type StreamEvent, type Usage } from "@fluxen/sdk"
import { toStopReason } from "./finishReasons.js"
import { toMessageId } from "./messageIds.js"
import type { ErrorObject, StreamPayload } from "./MessagesApi.js"
import { signedThinkingBlocksIn, type SignedThinkingBlock } from "./thinking.js"
import { toToolUseId } from "./toolUseIds.js"
import { usageToAnthropic } from "./usage.js"

export interface AnthropicStreamEncoderOptions {
  /** The provider whose chunks are encoded, named in errors. */
  readonly provider: string
  /** The model reported when the stream ends before any chunk arrived. */
  readonly model?: string
}

type OpenBlock =
  | { readonly kind: "text"; readonly index: number }
  | { readonly kind: "thinking"; readonly index: number }
  | { readonly kind: "tool"; readonly index: number; readonly toolIndex: number }

type ChunkToolCall = NonNullable<ChatCompletionChunk["choices"][number]["delta"]["tool_calls"]>[number]

export class AnthropicStreamEncoder {
  readonly #provider: string
  readonly #fallbackModel: string

  #started = false
  #finished = false
  #openBlock: OpenBlock | undefined = undefined
  #nextBlockIndex = 0
  // OpenAI tool call index → whether its block is still open.
  readonly #toolBlocksOpen = new Map<number, boolean>()
  #lastToolIndex = -1
  #finishReason: string | null = null
  #usage: Usage | undefined = undefined

  constructor(options: AnthropicStreamEncoderOptions) {
    this.#provider = options.provider
    this.#fallbackModel = options.model ?? ""
  }

  /**
   * Encodes one chunk into zero or more Anthropic events. The first chunk also produces
   * `message_start`. `reportedUsage` is the usage the upstream reported so far, which the
   * adapter may give beside the chunk (`StreamEvent.usage`) when the chunk itself has none.
   */
  push(chunk: ChatCompletionChunk, reportedUsage?: Usage): Array<StreamEvent> {
    const events: Array<StreamEvent> = []
    const chunkUsage = chunk.usage === undefined || chunk.usage === null ? undefined : usageFromOpenAI(chunk.usage)
    if (!this.#started) events.push(this.#messageStart(chunk.id, chunk.model, chunkUsage ?? reportedUsage))

    if (chunkUsage !== undefined) this.#usage = chunkUsage

    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue
      const delta = choice.delta ?? {}

      if (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "") {
        this.#ensureBlock(events, "thinking")
        events.push(this.#blockDelta({ type: "thinking_delta", thinking: delta.reasoning_content }))
      }
      for (const block of signedThinkingBlocksIn(delta.thinking_blocks)) this.#signedThinking(events, block)
      for (const text of [delta.content, delta.refusal]) {
        if (typeof text !== "string" || text === "") continue
        this.#ensureBlock(events, "text")
        events.push(this.#blockDelta({ type: "text_delta", text }))
      }
      for (const call of delta.tool_calls ?? []) this.#toolCall(events, call)

      if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.#finishReason = choice.finish_reason
    }
    return events
  }

  /**
   * Closes the open block and ends the message with `message_delta` (stop
   * reason and usage) and `message_stop`. Call it once, when the upstream
   * stream ended normally. A stream without a finish reason gets a null
   * stop reason.
   */
  finish(): Array<StreamEvent> {
    if (this.#finished) return []
    this.#finished = true
    const events: Array<StreamEvent> = []
    if (!this.#started) events.push(this.#messageStart("", this.#fallbackModel, undefined))
    this.#closeBlock(events)

    const usage = this.#usage === undefined ? { output_tokens: 0 } : usageToAnthropic(this.#usage)
    const messageDelta = this.#event(
      { type: "message_delta", delta: { stop_reason: toStopReason(this.#finishReason), stop_sequence: null }, usage },
      this.#usage
    )
    events.push(messageDelta, this.#event({ type: "message_stop" }))
    return events
  }

  /** An Anthropic `error` event, which Anthropic clients raise, for a failure after the stream started. */
  static errorEvent(error: ErrorObject): StreamEvent {
    const payload = { type: "error" as const, error: { type: error.type, message: error.message } }
    return { event: "error", data: JSON.stringify(payload), json: payload }
  }

  #messageStart(id: string, model: string, usage: Usage | undefined): StreamEvent {
    this.#started = true
    // The output count comes with message_delta, as in Anthropic's own streams. OpenAI reports
    // usage only at the end, so without an earlier report the input count is 0 here too.
    const startUsage = usage === undefined ? { input_tokens: 0, output_tokens: 0 } : { ...usageToAnthropic(usage), output_tokens: 0 }
    return this.#event({
      type: "message_start",
      message: {
        id: toMessageId(id),
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: startUsage
      }
    })
  }

  #signedThinking(events: Array<StreamEvent>, block: SignedThinkingBlock): void {
    if (block.type === "redacted_thinking") {
      this.#closeBlock(events)
      const index = this.#nextBlockIndex++
      events.push(this.#event({ type: "content_block_start", index, content_block: { type: "redacted_thinking", data: block.data } }))
      events.push(this.#event({ type: "content_block_stop", index }))
      return
    }
    // The thinking text usually arrived already as reasoning_content deltas;
    // when it did not, it is sent here in one delta.
    if (this.#openBlock?.kind !== "thinking") {
      this.#ensureBlock(events, "thinking")
      if (block.thinking !== "") events.push(this.#blockDelta({ type: "thinking_delta", thinking: block.thinking }))
    }
    events.push(this.#blockDelta({ type: "signature_delta", signature: block.signature }))
    this.#closeBlock(events)
  }

  #toolCall(events: Array<StreamEvent>, call: ChunkToolCall): void {
    // Some servers (Mistral) send whole calls without `index`, so a call
    // with an id is then a new one and a call without continues the last.
    let toolIndex = this.#lastToolIndex
    if (typeof call.index === "number") toolIndex = call.index
    else if (call.id !== undefined) toolIndex = this.#toolBlocksOpen.size
    const open = this.#toolBlocksOpen.get(toolIndex)

    if (open === undefined) {
      this.#closeBlock(events)
      const index = this.#nextBlockIndex++
      this.#openBlock = { kind: "tool", index, toolIndex }
      this.#toolBlocksOpen.set(toolIndex, true)
      this.#lastToolIndex = toolIndex
      // The id goes out here, so a thought signature counts only on the chunk that opens the call.
      events.push(
        this.#event({
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: toToolUseId(call), name: call.function?.name ?? "", input: {} }
        })
      )
    } else if (!open) {
      throw new UpstreamProtocolError({
        provider: this.#provider,
        message: `The upstream sent more arguments for tool call ${toolIndex} after another block started, and an Anthropic stream cannot reopen a block.`
      })
    }

    const fragment = call.function?.arguments
    if (typeof fragment === "string" && fragment !== "") {
      events.push(this.#blockDelta({ type: "input_json_delta", partial_json: fragment }))
    }
  }

  #ensureBlock(events: Array<StreamEvent>, kind: "text" | "thinking"): void {
    if (this.#openBlock?.kind === kind) return
    this.#closeBlock(events)
    const index = this.#nextBlockIndex++
    this.#openBlock = { kind, index }
    const contentBlock = kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" }
    events.push(this.#event({ type: "content_block_start", index, content_block: contentBlock }))
  }

  #closeBlock(events: Array<StreamEvent>): void {
    const block = this.#openBlock
    if (block === undefined) return
    if (block.kind === "tool") this.#toolBlocksOpen.set(block.toolIndex, false)
    this.#openBlock = undefined
    events.push(this.#event({ type: "content_block_stop", index: block.index }))
  }

  #blockDelta(delta: Extract<StreamPayload, { type: "content_block_delta" }>["delta"]): StreamEvent {
    return this.#event({ type: "content_block_delta", index: this.#openBlock!.index, delta })
  }

  #event(payload: StreamPayload, usage?: Usage): StreamEvent {
    const event = { event: payload.type, data: JSON.stringify(payload), json: payload }
    return usage === undefined ? event : { ...event, usage }
  }
}
