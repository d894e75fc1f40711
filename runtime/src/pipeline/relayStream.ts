/**
 * Relaying a streamed answer to the client as events arrive, while noting
 * what the usage record needs: the time to first byte, the last usage seen
 * and the generated text. Nothing is buffered beyond one event.
 */
import { ChatStreamAssembler, formatSseEvent, type ChatCompletionChunk, type Endpoint, type StreamResult, type Usage } from "@fluxen/sdk"
import type { Exchange } from "../http/Exchange.js"

export interface StreamProgress {
  /** `performance.now()` when the first event reached the client. */
  firstByteAt: number | undefined
  usage: Usage | undefined
  readonly textParts: Array<string>
  /** Set when a hook needs the whole chat completion (a cache). */
  assembler: ChatStreamAssembler | undefined
  /** True when the upstream ended the stream normally. */
  completed: boolean
  /** True once an error event reached the client, so that the host does not send a second one. */
  errorEventSent: boolean
}

export const makeStreamProgress = (assemble: boolean): StreamProgress => ({
  firstByteAt: undefined,
  usage: undefined,
  textParts: [],
  assembler: assemble ? new ChatStreamAssembler() : undefined,
  completed: false,
  errorEventSent: false
})

const collectText = (endpoint: Endpoint, json: any, parts: Array<string>): void => {
  if (endpoint === "responses") {
    if (json.type === "response.output_text.delta" && typeof json.delta === "string") parts.push(json.delta)
    return
  }
  const choices = json.choices
  if (!Array.isArray(choices)) return
  for (const choice of choices) {
    const text = endpoint === "chat" ? choice?.delta?.content : choice?.text
    if (typeof text === "string" && text.length > 0) parts.push(text)
  }
}

export interface RelayOptions {
  readonly endpoint: Endpoint
  /** Whether the client asked for usage (`stream_options.include_usage`). */
  readonly includeUsage: boolean
  readonly headers: Readonly<Record<string, string>>
  readonly signal: AbortSignal
}

export const relayStream = async (
  result: StreamResult,
  exchange: Exchange,
  options: RelayOptions,
  progress: StreamProgress
): Promise<void> => {
  const iterator = result.events[Symbol.asyncIterator]()
  try {
    while (!options.signal.aborted) {
      const next = await iterator.next()
      if (next.done) {
        progress.completed = true
        break
      }
      const event = next.value
      if (!exchange.headersSent()) exchange.startStream(result.status, options.headers)
      if (progress.firstByteAt === undefined) progress.firstByteAt = performance.now()
      if (event.usage !== undefined) progress.usage = event.usage
      if (event.json !== undefined) {
        collectText(options.endpoint, event.json, progress.textParts)
        if (progress.assembler !== undefined && !event.done) progress.assembler.add(event.json as ChatCompletionChunk)
      }
      if (event.usageOnly === true && !options.includeUsage) continue

      if (event.event === "error" || (event.json as { error?: unknown } | undefined)?.error !== undefined) progress.errorEventSent = true
      const pending = exchange.write(formatSseEvent(event))
      if (pending !== undefined) await pending
    }
  } finally {
    // Returning closes the upstream when the loop stopped early.
    if (!progress.completed) await iterator.return?.()
  }
  if (!exchange.headersSent()) exchange.startStream(result.status, options.headers)
  exchange.end()
}
