/**
 * Relaying a streamed answer to the client as events arrive, while noting
 * what the usage record needs: the time to first byte, the last usage seen
 * and the generated text. Nothing waits to be sent beyond one event. Events
 * already sent are kept, up to `TEXT_BATCH` of them, until their text is read.
 */
import {
  ChatStreamAssembler,
  eventBatchesOf,
  formatSseEvent,
  LazyStreamEvent,
  SseBytes,
  streamChunksOf,
  type ChatCompletionChunk,
  type Endpoint,
  type StreamChunk,
  type StreamEvent,
  type StreamResult,
  type Usage
} from "@fluxen/sdk"
import type { Exchange } from "../http/Exchange.js"
import { modelOfStreamPayload } from "./responseModel.js"

/** Number of events whose text is read together (see `StreamProgress.unread`). */
const TEXT_BATCH = 64
/** Bytes of relayed `SseBytes` kept unread at most, so that large reads do not stay in memory for long. */
const UNREAD_BYTES = 64 * 1024

export interface StreamProgress {
  /** `performance.now()` when the first event reached the client. */
  firstByteAt: number | undefined
  usage: Usage | undefined
  readonly textParts: Array<string>
  /**
   * Events whose text is not in `textParts` yet, alone or as the bytes they
   * were relayed in. Text is read from up to `TEXT_BATCH` events (or
   * `UNREAD_BYTES` bytes) at a time, so the chunks of a short stream that
   * reports usage are never parsed for their text. `streamedText` reads
   * the rest.
   */
  readonly unread: Array<StreamEvent | SseBytes>
  /** Events in `unread`, counting those in its `SseBytes`. */
  unreadEvents: number
  /** Bytes of the `SseBytes` in `unread`. */
  unreadBytes: number
  /** Set when a hook needs the whole chat completion (a cache) and the result did not bring it. */
  assembler: ChatStreamAssembler | undefined
  /** The result's own `completion`, given to hooks when the stream completes. */
  readonly completion: unknown
  /** True when the upstream ended the stream normally. */
  completed: boolean
  /** True once an error event reached the client, so that the host does not send a second one. */
  errorEventSent: boolean
  /** The model named by the first already parsed event that names one (see `noteResponseModel`). */
  responseModel: string | undefined
}

/** Starts the progress of a stream. A stream that brings its `completion` is not assembled. */
export const makeStreamProgress = (assemble: boolean, completion?: unknown): StreamProgress => ({
  firstByteAt: undefined,
  usage: undefined,
  textParts: [],
  unread: [],
  unreadEvents: 0,
  unreadBytes: 0,
  assembler: assemble && completion === undefined ? new ChatStreamAssembler() : undefined,
  completion,
  completed: false,
  errorEventSent: false,
  responseModel: undefined
})

const collectText = (endpoint: Endpoint, json: any, parts: Array<string>): void => {
  if (endpoint === "responses") {
    if (json.type === "response.output_text.delta" && typeof json.delta === "string") parts.push(json.delta)
    return
  }
  if (endpoint === "messages") {
    if (json.type === "content_block_delta") collectMessagesDelta(json.delta, parts)
    return
  }
  const choices = json.choices
  if (!Array.isArray(choices)) return
  for (const choice of choices) {
    if (endpoint === "chat") collectChatDelta(choice?.delta, parts)
    else pushText(choice?.text, parts)
  }
}

const pushText = (text: unknown, parts: Array<string>): void => {
  if (typeof text === "string" && text.length > 0) parts.push(text)
}

/**
 * Adds the generated text of a chat delta: its content, its thinking text
 * and its tool call arguments. The Anthropic and Gemini providers send
 * thinking text as `reasoning_content`, and providers bill all three as output.
 */
const collectChatDelta = (delta: any, parts: Array<string>): void => {
  pushText(delta?.content, parts)
  pushText(delta?.reasoning_content, parts)
  if (!Array.isArray(delta?.tool_calls)) return
  for (const call of delta.tool_calls) pushText(call?.function?.arguments, parts)
}

/** Adds the generated text of an Anthropic `content_block_delta`: text, thinking or tool input. */
const collectMessagesDelta = (delta: any, parts: Array<string>): void => {
  let text: unknown
  switch (delta?.type) {
    case "text_delta":
      text = delta.text
      break
    case "thinking_delta":
      text = delta.thinking
      break
    case "input_json_delta":
      text = delta.partial_json
      break
  }
  pushText(text, parts)
}

/**
 * Moves the text of the unread events into `textParts`. An event whose
 * payload is not valid JSON adds nothing: the text only serves a token
 * estimate, and the client already received the event as it came.
 */
const readUnread = (endpoint: Endpoint, progress: StreamProgress): void => {
  progress.unreadEvents = 0
  progress.unreadBytes = 0
  for (const unread of progress.unread.splice(0)) {
    if (unread instanceof SseBytes) {
      for (const event of unread.events()) readText(endpoint, event, progress)
    } else {
      readText(endpoint, unread, progress)
    }
  }
}

const readText = (endpoint: Endpoint, event: StreamEvent, progress: StreamProgress): void => {
  let json: unknown
  try {
    json = event.json
  } catch {
    return
  }
  if (json !== undefined && json !== null) collectText(endpoint, json, progress.textParts)
}

/** Keeps events for their text, and reads the text once enough are kept. */
const keepUnread = (endpoint: Endpoint, progress: StreamProgress, unread: StreamEvent | SseBytes, events: number, bytes: number): void => {
  progress.unread.push(unread)
  progress.unreadEvents += events
  progress.unreadBytes += bytes
  if (progress.unreadEvents >= TEXT_BATCH || progress.unreadBytes >= UNREAD_BYTES) readUnread(endpoint, progress)
}

/** Returns the text generated so far, reading the events not read yet. */
export const streamedText = (endpoint: Endpoint, progress: StreamProgress): string => {
  readUnread(endpoint, progress)
  return progress.textParts.join("")
}

/**
 * Checks for an error event. Only an event whose data contains an `error` key
 * is parsed to tell. A `LazyStreamEvent` has none: its adapter made it only
 * for data without one.
 */
const isErrorEvent = (event: StreamEvent): boolean =>
  event.event === "error" ||
  (!(event instanceof LazyStreamEvent) && event.data.includes('"error"') && (event.json as { error?: unknown } | undefined)?.error !== undefined)

export interface RelayOptions {
  readonly endpoint: Endpoint
  /** Whether the client asked for usage (`stream_options.include_usage`). */
  readonly includeUsage: boolean
  readonly headers: Readonly<Record<string, string>>
  /** True once the client has left. The relay then stops and closes the upstream. */
  readonly clientLeft: () => boolean
}

/**
 * Notes the model an event names. A `LazyStreamEvent` is passed over,
 * because reading its payload would parse it, so an OpenAI-compatible chat or
 * completions stream gives its model only in the chunks that its adapter
 * parsed anyway, such as the usage chunk. The adapters of translated APIs
 * make every event with its payload parsed.
 */
const noteResponseModel = (event: StreamEvent, endpoint: Endpoint, progress: StreamProgress): void => {
  if (event instanceof LazyStreamEvent || event.json === undefined) return
  progress.responseModel = modelOfStreamPayload(endpoint, event.json)
}

/** Notes one event in `progress` and sends it, unless it is a usage event the client did not ask for. */
const relayEvent = (event: StreamEvent, exchange: Exchange, options: RelayOptions, progress: StreamProgress): Promise<void> | undefined => {
  if (event.usage !== undefined) progress.usage = event.usage
  if (progress.responseModel === undefined) noteResponseModel(event, options.endpoint, progress)
  if (event.done !== true) {
    keepUnread(options.endpoint, progress, event, 1, 0)
    if (progress.assembler !== undefined && event.json !== undefined) progress.assembler.add(event.json as ChatCompletionChunk)
  }
  if (event.usageOnly === true && !options.includeUsage) return undefined
  if (isErrorEvent(event)) progress.errorEventSent = true
  return exchange.write(formatSseEvent(event))
}

/** Relays whole events kept as bytes ({@link SseBytes}) as they came, keeping them for their text. */
const relayBytes = (chunk: SseBytes, exchange: Exchange, options: RelayOptions, progress: StreamProgress): Promise<void> | undefined => {
  keepUnread(options.endpoint, progress, chunk, chunk.eventCount, chunk.bytes.length)
  return exchange.write(chunk.bytes)
}

/**
 * Relays the events, a chunk at a time when the adapter made them with the
 * SDK's `chunkedEvents` or `batchedEvents`, so that one network read costs
 * one step of an async iterator instead of one per event.
 */
export const relayStream = async (
  result: StreamResult,
  exchange: Exchange,
  options: RelayOptions,
  progress: StreamProgress
): Promise<void> => {
  const chunks = streamChunksOf(result.events) ?? eventBatchesOf(result.events)
  const iterator = chunks ?? result.events[Symbol.asyncIterator]()
  try {
    while (!options.clientLeft()) {
      const next = await iterator.next()
      if (next.done) {
        progress.completed = true
        break
      }
      if (!exchange.headersSent()) exchange.startStream(result.status, options.headers)
      if (progress.firstByteAt === undefined) progress.firstByteAt = performance.now()
      if (chunks !== undefined) {
        const chunk = next.value as StreamChunk
        // A hook that assembles the stream needs every event's payload, so then the bytes are parsed.
        if (chunk instanceof SseBytes && progress.assembler === undefined) {
          const pending = relayBytes(chunk, exchange, options, progress)
          if (pending !== undefined) await pending
          continue
        }
        for (const event of chunk instanceof SseBytes ? chunk.events() : chunk) {
          const pending = relayEvent(event, exchange, options, progress)
          if (pending !== undefined) await pending
        }
        continue
      }
      const pending = relayEvent(next.value as StreamEvent, exchange, options, progress)
      if (pending !== undefined) await pending
    }
  } finally {
    // Returning closes the upstream when the loop stopped early.
    if (!progress.completed) await iterator.return?.()
  }
  if (!exchange.headersSent()) exchange.startStream(result.status, options.headers)
  exchange.end()
}
