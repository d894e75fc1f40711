/**
 * Anthropic stream events → OpenAI chat completion chunks, one Anthropic
 * event at a time.
 *
 * What each event becomes:
 * - `message_start`: the first chunk, with `role: "assistant"`. The input and
 *   cache token counts become known.
 * - `text_delta`: a `content` delta.
 * - `thinking_delta`: a `reasoning_content` delta. The signature is collected,
 *   and when the thinking block stops, one delta carries the whole signed
 *   block in `thinking_blocks` (so the thinking text is sent twice), which is
 *   what a client must send back to continue a tool loop.
 * - `tool_use` start: a `tool_calls` delta with id, name and empty
 *   arguments. Its `index` counts tool calls (0, 1, ...), not Anthropic
 *   blocks. `input_json_delta` fragments become argument deltas, and a tool
 *   call whose input stayed empty gets the arguments `{}` when it stops.
 * - `message_delta`: the chunk with `finish_reason`. Its usage counts are
 *   cumulative and replace the earlier ones.
 * - `message_stop`: a usage-only chunk (`choices: []`), then `[DONE]`.
 * - `error`: `failure` is set so the reader can fail the stream. After
 *   `message_start` it also yields an `{"error": {...}}` event in OpenAI's
 *   shape, which OpenAI clients raise. Before `message_start` it yields
 *   nothing, so the host can still respond with an HTTP error status.
 * - `ping` and event types this translator does not know: nothing.
 */
import {
  UpstreamProtocolError,
  type ChatCompletionChunk,
  type FinishReason,
  type StreamEvent,
  type Usage,
  type UpstreamHttpError
} from "@fluxen/sdk"
import { streamedUpstreamError, toOpenAIErrorPayload } from "./errors.js"
import { toFinishReason } from "./finishReasons.js"
import type { MessagesUsage, StreamPayload } from "./MessagesApi.js"
import type { SignedThinkingBlock } from "./thinking.js"
import { mergeAnthropicUsage, usageAtMessageStart, usageFromAnthropic, usageToChatCompletionUsage } from "./usage.js"
import { isRecord } from "./validation.js"

type ChunkDelta = ChatCompletionChunk["choices"][number]["delta"]

interface ToolBlockState {
  readonly toolIndex: number
  argumentsSent: boolean
}

type ThinkingBlockState =
  | { readonly type: "thinking"; thinking: string; signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }

export interface StreamTranslatorOptions {
  /** The provider instance name, used in errors. */
  readonly provider: string
  /** Clock for the chunks' `created` field, in milliseconds. Default: `Date.now`. */
  readonly now?: () => number
  /** Values removed from the message of an error event (the API key). */
  readonly secrets?: ReadonlyArray<string>
  /** The stream response's headers, from which an error event's error keeps the upstream request id. */
  readonly headers?: Readonly<Record<string, string>>
}

export class StreamTranslator {
  readonly #provider: string
  readonly #now: () => number
  readonly #secrets: ReadonlyArray<string>
  readonly #headers: Readonly<Record<string, string>>

  #started = false
  #id = ""
  #model = ""
  #created = 0
  #rawUsage: MessagesUsage = {}
  #usage: Usage | undefined = undefined
  #finishReason: FinishReason | null = null

  readonly #toolBlocks = new Map<number, ToolBlockState>()
  readonly #thinkingBlocks = new Map<number, ThinkingBlockState>()

  #completed = false
  #failure: UpstreamHttpError | undefined = undefined

  constructor(options: StreamTranslatorOptions) {
    this.#provider = options.provider
    this.#now = options.now ?? Date.now
    this.#secrets = options.secrets ?? []
    this.#headers = options.headers ?? {}
  }

  /** True once `message_stop` arrived. */
  get completed(): boolean {
    return this.#completed
  }

  /** The error an `error` event reported, which the stream must end with. */
  get failure(): UpstreamHttpError | undefined {
    return this.#failure
  }

  /** The usage so far, once `message_start` arrived. */
  get usage(): Usage | undefined {
    return this.#usage
  }

  /** Translates one event into zero or more client events. */
  push(payload: StreamPayload): Array<StreamEvent> {
    switch (payload.type) {
      case "message_start":
        return this.#messageStart(payload)
      case "content_block_start":
        return this.#blockStart(payload)
      case "content_block_delta":
        return this.#blockDelta(payload)
      case "content_block_stop":
        return this.#blockStop(payload.index)
      case "message_delta":
        this.#updateUsage(payload.usage)
        this.#finishReason = toFinishReason(payload.delta?.stop_reason)
        return [this.#chunkEvent({}, this.#finishReason)]
      case "message_stop":
        return this.#messageStop()
      case "error": {
        this.#failure = streamedUpstreamError(this.#provider, payload.error, this.#secrets, this.#headers)
        if (!this.#started) return []
        const json = toOpenAIErrorPayload(this.#failure)
        return [{ data: JSON.stringify(json), json }]
      }
      default:
        return []
    }
  }

  #messageStart(payload: Extract<StreamPayload, { type: "message_start" }>): Array<StreamEvent> {
    const message = payload.message
    this.#started = true
    this.#id = typeof message?.id === "string" ? message.id : ""
    this.#model = typeof message?.model === "string" ? message.model : ""
    this.#created = Math.floor(this.#now() / 1000)
    this.#updateUsage(usageAtMessageStart(isRecord(message?.usage) ? message.usage : undefined))
    return [this.#chunkEvent({ role: "assistant", content: "" })]
  }

  #blockStart(payload: Extract<StreamPayload, { type: "content_block_start" }>): Array<StreamEvent> {
    const block = payload.content_block
    switch (block.type) {
      case "text":
        return typeof block.text === "string" && block.text !== "" ? [this.#chunkEvent({ content: block.text })] : []
      case "tool_use": {
        const state: ToolBlockState = { toolIndex: this.#toolBlocks.size, argumentsSent: false }
        this.#toolBlocks.set(payload.index, state)
        // Anthropic starts a streamed tool_use with `input: {}` and sends the
        // input as fragments, so a non-empty input here is sent whole.
        const input = isRecord(block.input) && Object.keys(block.input).length > 0 ? JSON.stringify(block.input) : ""
        state.argumentsSent = input !== ""
        const call = {
          index: state.toolIndex,
          id: String(block.id ?? ""),
          type: "function" as const,
          function: { name: String(block.name ?? ""), arguments: input }
        }
        return [this.#chunkEvent({ tool_calls: [call] })]
      }
      case "thinking": {
        const thinking = typeof block.thinking === "string" ? block.thinking : ""
        const signature = typeof block.signature === "string" ? block.signature : ""
        this.#thinkingBlocks.set(payload.index, { type: "thinking", thinking, signature })
        return thinking === "" ? [] : [this.#chunkEvent({ reasoning_content: thinking })]
      }
      case "redacted_thinking":
        this.#thinkingBlocks.set(payload.index, { type: "redacted_thinking", data: String(block.data ?? "") })
        return []
      default:
        return []
    }
  }

  #blockDelta(payload: Extract<StreamPayload, { type: "content_block_delta" }>): Array<StreamEvent> {
    const delta = payload.delta
    switch (delta.type) {
      case "text_delta":
        return delta.text === "" ? [] : [this.#chunkEvent({ content: delta.text })]
      case "input_json_delta": {
        const tool = this.#toolBlocks.get(payload.index)
        if (tool === undefined) throw this.#protocolError(`input_json_delta for content block ${payload.index}, which is not a tool_use block`)
        if (delta.partial_json === "") return []
        tool.argumentsSent = true
        return [this.#chunkEvent({ tool_calls: [{ index: tool.toolIndex, function: { arguments: delta.partial_json } }] })]
      }
      case "thinking_delta": {
        const thinking = this.#thinkingBlocks.get(payload.index)
        if (thinking?.type !== "thinking") throw this.#protocolError(`thinking_delta for content block ${payload.index}, which is not a thinking block`)
        thinking.thinking += delta.thinking
        return delta.thinking === "" ? [] : [this.#chunkEvent({ reasoning_content: delta.thinking })]
      }
      case "signature_delta": {
        const thinking = this.#thinkingBlocks.get(payload.index)
        if (thinking?.type !== "thinking") throw this.#protocolError(`signature_delta for content block ${payload.index}, which is not a thinking block`)
        thinking.signature += delta.signature
        return []
      }
      default:
        return []
    }
  }

  #blockStop(index: number): Array<StreamEvent> {
    const tool = this.#toolBlocks.get(index)
    if (tool !== undefined && !tool.argumentsSent) {
      tool.argumentsSent = true
      return [this.#chunkEvent({ tool_calls: [{ index: tool.toolIndex, function: { arguments: "{}" } }] })]
    }
    const thinking = this.#thinkingBlocks.get(index)
    if (thinking !== undefined) {
      this.#thinkingBlocks.delete(index)
      const block: SignedThinkingBlock =
        thinking.type === "thinking"
          ? { type: "thinking", thinking: thinking.thinking, signature: thinking.signature }
          : { type: "redacted_thinking", data: thinking.data }
      return [this.#chunkEvent({ thinking_blocks: [block] })]
    }
    return []
  }

  #messageStop(): Array<StreamEvent> {
    this.#completed = true
    const usageChunk: ChatCompletionChunk = {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      choices: [],
      ...(this.#usage !== undefined ? { usage: usageToChatCompletionUsage(this.#usage) } : {})
    }
    const usageEvent: StreamEvent =
      this.#usage !== undefined
        ? { data: JSON.stringify(usageChunk), json: usageChunk, usage: this.#usage, usageOnly: true }
        : { data: JSON.stringify(usageChunk), json: usageChunk, usageOnly: true }
    return [usageEvent, { data: "[DONE]", done: true }]
  }

  #updateUsage(update: MessagesUsage | undefined): void {
    this.#rawUsage = mergeAnthropicUsage(this.#rawUsage, update)
    this.#usage = usageFromAnthropic(this.#rawUsage)
  }

  #chunkEvent(delta: ChunkDelta, finishReason: FinishReason | null = null): StreamEvent {
    const chunk: ChatCompletionChunk = {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }]
    }
    const data = JSON.stringify(chunk)
    return this.#usage !== undefined ? { data, json: chunk, usage: this.#usage } : { data, json: chunk }
  }

  #protocolError(what: string): UpstreamProtocolError {
    return new UpstreamProtocolError({ provider: this.#provider, message: `The upstream stream is malformed: ${what}.` })
  }
}
