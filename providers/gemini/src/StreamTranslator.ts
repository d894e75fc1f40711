/**
 * A Gemini `streamGenerateContent?alt=sse` stream translated to OpenAI chat
 * completion chunks.
 *
 * Each SSE event is a whole `GenerateContentResponse` holding the next piece
 * of each candidate. Function calls arrive whole, never in fragments, so
 * each becomes one complete `tool_calls` entry. `usageMetadata` repeats the
 * running totals in every event, so the last one is kept and never summed.
 * Gemini sends no terminator: the body ends after the event with the finish
 * reason, and the translator then adds OpenAI's usage chunk and `[DONE]`.
 */
import {
  SseEventTooLargeError,
  SseParser,
  thoughtSignatureField,
  UpstreamProtocolError,
  UpstreamUnreachableError,
  usageToOpenAI,
  type ChatCompletionChunk,
  type ChatCompletionChunkToolCall,
  type FinishReason,
  type StreamEvent,
  type Usage
} from "@fluxen/sdk"
import type { Redacted } from "effect"
import { geminiStreamError, googleRpcStatus } from "./errors.js"
import { toOpenAIFinishReason } from "./finishReasons.js"
import {
  candidateIndex,
  completionId,
  createdSeconds,
  decodeGenerateContentResponse,
  failIfPromptBlocked,
  makeToolCallIds,
  readCandidateContent,
  toOpenAIToolCall
} from "./fromGeminiResponse.js"
import type { Candidate } from "./GeminiTypes.js"
import { usageFromGemini } from "./usage.js"

export interface StreamTranslatorOptions {
  readonly provider: string
  /** The model name asked for, used when the events have no `modelVersion`. */
  readonly model: string
  /** The API key, removed from an error message should it appear there. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** The clock, in milliseconds since the epoch, replaceable in tests. */
  readonly now?: () => number
}

interface CandidateState {
  /** True once a chunk for this choice carried `role`. */
  started: boolean
  /** The number of tool calls sent so far, which is the next call's `index`. */
  toolCalls: number
  finishReason: FinishReason | null
}

type ChunkChoice = ChatCompletionChunk["choices"][number]

/**
 * Translates parsed stream events one at a time. Create one per stream. The
 * stream is complete once every candidate seen has sent a finish reason.
 */
export class StreamTranslator {
  readonly #options: StreamTranslatorOptions
  readonly #candidates = new Map<number, CandidateState>()
  readonly #nextToolCallId = makeToolCallIds()
  #id = ""
  #created = 0
  #model = ""
  #usage: Usage | undefined = undefined

  constructor(options: StreamTranslatorOptions) {
    this.#options = options
  }

  /** The usage of the last event that carried one. */
  get usage(): Usage | undefined {
    return this.#usage
  }

  /**
   * Translates one event payload into at most one chunk. Throws
   * `UpstreamHttpError` for an error event, `InvalidRequestError` for a
   * blocked prompt and `UpstreamProtocolError` for a payload of the wrong shape.
   */
  push(json: unknown): Array<StreamEvent> {
    const { provider } = this.#options
    const rpcStatus = googleRpcStatus(json)
    if (rpcStatus !== undefined) throw geminiStreamError(provider, rpcStatus, this.#options.apiKey)

    const response = decodeGenerateContentResponse(json, provider)
    failIfPromptBlocked(response)
    if (this.#id === "") {
      this.#id = completionId(response)
      this.#created = createdSeconds(response, this.#options.now ?? Date.now)
      this.#model = response.modelVersion ?? this.#options.model
    }
    this.#usage = usageFromGemini(response.usageMetadata) ?? this.#usage

    const choices: Array<ChunkChoice> = []
    for (const [position, candidate] of (response.candidates ?? []).entries()) {
      const choice = this.#translateCandidate(candidate, candidateIndex(candidate, position))
      if (choice !== undefined) choices.push(choice)
    }
    if (choices.length === 0) return []
    // Each event carries the running usage, so a stream cut short still reports what it used so far.
    return [this.#event({ choices }, this.#usage)]
  }

  /**
   * Returns the closing events once the upstream body has ended: a usage
   * chunk (`choices: []`) when Gemini reported usage, then `[DONE]`. Throws
   * `UpstreamUnreachableError` when a candidate never finished, which means
   * the connection ended early.
   */
  finish(): Array<StreamEvent> {
    const unfinished = this.#candidates.size === 0 || [...this.#candidates.values()].some((state) => state.finishReason === null)
    if (unfinished) {
      throw new UpstreamUnreachableError({
        provider: this.#options.provider,
        reason: "the stream ended before completion (no finish reason was received)"
      })
    }
    const closing: Array<StreamEvent> = []
    if (this.#usage !== undefined) {
      const event = this.#event({ choices: [], usage: usageToOpenAI(this.#usage) }, this.#usage)
      closing.push({ ...event, usageOnly: true })
    }
    closing.push({ data: "[DONE]", done: true })
    return closing
  }

  #translateCandidate(candidate: Candidate, index: number): ChunkChoice | undefined {
    let state = this.#candidates.get(index)
    if (state === undefined) {
      state = { started: false, toolCalls: 0, finishReason: null }
      this.#candidates.set(index, state)
    }
    const content = readCandidateContent(candidate)
    const delta: Record<string, unknown> = {}

    if (!state.started) {
      state.started = true
      delta.role = "assistant"
      // Like OpenAI, the first chunk has content "" for text and null for a tool call.
      delta.content = content.text === "" && content.functionCalls.length > 0 ? null : content.text
    } else if (content.text !== "") {
      delta.content = content.text
    }
    if (content.reasoning !== "") delta.reasoning_content = content.reasoning

    if (content.functionCalls.length > 0) {
      delta.tool_calls = content.functionCalls.map(({ call, thoughtSignature }): ChatCompletionChunkToolCall => ({
        index: state.toolCalls++,
        ...toOpenAIToolCall(this.#nextToolCallId(call), call, thoughtSignature),
        type: "function"
      }))
    }
    if (content.textSignature !== undefined) Object.assign(delta, thoughtSignatureField(content.textSignature))

    let finishReason: FinishReason | null = null
    if (candidate.finishReason !== undefined) {
      finishReason = toOpenAIFinishReason(candidate.finishReason, state.toolCalls > 0)
      state.finishReason = finishReason
    }
    if (Object.keys(delta).length === 0 && finishReason === null) return undefined
    return { index, delta, finish_reason: finishReason }
  }

  #event(fields: Pick<ChatCompletionChunk, "choices" | "usage">, usage: Usage | undefined): StreamEvent {
    const chunk: ChatCompletionChunk = {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      ...fields
    }
    return usage === undefined ? { data: JSON.stringify(chunk), json: chunk } : { data: JSON.stringify(chunk), json: chunk, usage }
  }
}

/**
 * Reads a Gemini SSE body and yields the translated events, ending with the
 * usage chunk and `[DONE]`. Events are separated by CRLF pairs, which the SSE
 * parser handles like LF. It throws the gateway's tagged errors, and a broken
 * connection surfaces as whatever the transport's body iterator throws.
 */
export async function* translateGeminiStream(
  body: AsyncIterable<Uint8Array>,
  translator: StreamTranslator,
  provider: string
): AsyncGenerator<StreamEvent> {
  const parser = new SseParser()
  for await (const bytes of body) {
    let events
    try {
      events = parser.push(bytes)
    } catch (error) {
      if (error instanceof SseEventTooLargeError) throw new UpstreamProtocolError({ provider, message: error.message })
      throw error
    }
    for (const event of events) {
      let json: unknown
      try {
        json = JSON.parse(event.data)
      } catch {
        throw new UpstreamProtocolError({ provider, message: "The upstream sent a stream event that is not valid JSON." })
      }
      yield* translator.push(json)
    }
  }
  parser.end()
  yield* translator.finish()
}
