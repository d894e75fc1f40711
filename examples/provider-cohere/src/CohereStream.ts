/**
 * Translates Cohere's chat stream (server-sent events named `message-start`,
 * `content-delta`, `tool-call-start`, `tool-call-delta`, `message-end`, ...)
 * into OpenAI chat completion chunks:
 *
 * - `message-start` becomes the role chunk;
 * - `content-delta` becomes a content chunk;
 * - `tool-call-start` and `tool-call-delta` become tool-call chunks, numbered
 *   from 0 in the order the calls start;
 * - `message-end` becomes the finish-reason chunk, a usage-only chunk
 *   (`choices: []`) and `[DONE]`.
 *
 * Other events (`content-start`, `content-end`, `tool-plan-delta`,
 * `tool-call-end`, citations, `debug`) carry nothing an OpenAI client reads.
 */
import {
  SseParser,
  UpstreamProtocolError,
  usageToOpenAI,
  type ChatCompletionChunk,
  type SseEvent,
  type StreamEvent
} from "@fluxen/sdk"
import { toFinishReason, usageFromCohere } from "./fromCohereResponse.js"

type Delta = ChatCompletionChunk["choices"][number]["delta"]

interface CohereStreamEvent {
  readonly type?: string
  readonly id?: string
  readonly index?: number
  readonly delta?: {
    readonly message?: {
      readonly content?: { readonly text?: string }
      readonly tool_calls?: { readonly id?: string; readonly function?: { readonly name?: string; readonly arguments?: string } }
    }
    readonly finish_reason?: string
    readonly usage?: Parameters<typeof usageFromCohere>[0]
  }
}

export class CohereStreamTranslator {
  readonly #provider: string
  readonly #model: string
  readonly #created = Math.floor(Date.now() / 1000)
  #id = ""
  #finished = false
  // Cohere's tool-call `index` to the OpenAI tool-call index.
  readonly #toolIndexes = new Map<number, number>()

  constructor(options: { readonly provider: string; readonly model: string }) {
    this.#provider = options.provider
    this.#model = options.model
  }

  /** Translates one SSE event into zero or more canonical events. */
  push(event: SseEvent): Array<StreamEvent> {
    if (event.data === "[DONE]" || this.#finished) return []
    let json: CohereStreamEvent
    try {
      json = JSON.parse(event.data) as CohereStreamEvent
    } catch {
      throw new UpstreamProtocolError({ provider: this.#provider, message: "Cohere sent a stream event that is not valid JSON." })
    }

    switch (json.type ?? event.event) {
      case "message-start":
        if (typeof json.id === "string") this.#id = json.id
        return [this.#chunk({ role: "assistant", content: "" })]
      case "content-delta": {
        const text = json.delta?.message?.content?.text
        return typeof text === "string" && text !== "" ? [this.#chunk({ content: text })] : []
      }
      case "tool-call-start": {
        const call = json.delta?.message?.tool_calls
        const index = this.#toolIndexes.size
        this.#toolIndexes.set(json.index ?? index, index)
        return [
          this.#chunk({
            tool_calls: [
              { index, id: call?.id ?? "", type: "function", function: { name: call?.function?.name ?? "", arguments: call?.function?.arguments ?? "" } }
            ]
          })
        ]
      }
      case "tool-call-delta": {
        const args = json.delta?.message?.tool_calls?.function?.arguments
        if (typeof args !== "string" || args === "") return []
        const index = this.#toolIndexes.get(json.index ?? -1) ?? this.#toolIndexes.size - 1
        return [this.#chunk({ tool_calls: [{ index, function: { arguments: args } }] })]
      }
      case "message-end":
        return this.#finish(json)
      default:
        return []
    }
  }

  /** Checks that the stream was complete. Throws `UpstreamProtocolError` when `message-end` never came. */
  end(): void {
    if (!this.#finished) {
      throw new UpstreamProtocolError({ provider: this.#provider, message: "The Cohere stream ended before its message-end event." })
    }
  }

  #finish(json: CohereStreamEvent): Array<StreamEvent> {
    this.#finished = true
    const events: Array<StreamEvent> = [this.#chunk({}, toFinishReason(json.delta?.finish_reason))]
    const usage = usageFromCohere(json.delta?.usage)
    if (usage !== undefined) {
      const chunk: ChatCompletionChunk = { ...this.#header(), choices: [], usage: usageToOpenAI(usage) }
      events.push({ data: JSON.stringify(chunk), json: chunk, usage, usageOnly: true })
    }
    events.push({ data: "[DONE]", done: true })
    return events
  }

  #header() {
    return { id: this.#id, object: "chat.completion.chunk" as const, created: this.#created, model: this.#model }
  }

  #chunk(delta: Delta, finishReason: ChatCompletionChunk["choices"][number]["finish_reason"] = null): StreamEvent {
    const chunk: ChatCompletionChunk = { ...this.#header(), choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }] }
    return { data: JSON.stringify(chunk), json: chunk }
  }
}

/**
 * Parses a Cohere event stream and yields the canonical events of each
 * network read as one batch, for `batchedEvents`. Reads that complete no
 * event yield nothing, because a batch must not be empty.
 */
export async function* translateCohereBatches(
  body: AsyncIterable<Uint8Array>,
  translator: CohereStreamTranslator
): AsyncGenerator<ReadonlyArray<StreamEvent>> {
  const parser = new SseParser()
  for await (const bytes of body) {
    const batch = parser.push(bytes).flatMap((event) => translator.push(event))
    if (batch.length > 0) yield batch
  }

  const rest = parser.end().flatMap((event) => translator.push(event))
  if (rest.length > 0) yield rest
  translator.end()
}
