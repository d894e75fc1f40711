/**
 * Replays a stored chat completion as a stream of OpenAI chat completion
 * chunks, so that a cache can serve a streamed request from a completion it
 * stored earlier, whether that completion arrived as JSON or as a stream.
 *
 * Each choice, in index order, becomes a run of chunks. A role chunk comes
 * first, and it also carries the message's extra fields and the choice's
 * logprobs. The content, the refusal and a legacy `function_call` follow.
 * Then each tool call comes with its id, type, name and extra fields,
 * followed by its arguments. A chunk with the finish reason closes the
 * choice. A usage-only chunk (`choices: []`) and `[DONE]` end the stream.
 * Folding the chunks with {@link ChatStreamAssembler} or the OpenAI SDK gives
 * back the content, refusal, tool calls, finish reasons and usage.
 *
 * NOTE: the text is cut into pieces of {@link REPLAY_PIECE_CHARS} characters,
 * not at the upstream's token boundaries, and logprobs arrive whole in the
 * role chunk instead of alongside each piece.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionChunkToolCall } from "./ChatResponse.js"
import { batchedEvents } from "./EventBatches.js"
import { LazyStreamEvent } from "./LazyStreamEvent.js"
import type { StreamEvent } from "./Provider.js"
import { usageFromOpenAI, usageToOpenAI, type Usage } from "./Usage.js"

/** Maximum length, in UTF-16 code units, of the text in one replayed chunk. */
export const REPLAY_PIECE_CHARS = 64

export interface ChatStreamReplayOptions {
  /**
   * Whether to end with a usage-only chunk (marked `usageOnly`) when usage is
   * known. The runtime drops that event for clients that did not set
   * `stream_options.include_usage`, but still records its usage, so a caller
   * that wants the usage recorded passes true.
   */
  readonly includeUsage: boolean
  /**
   * The usage to attach to the usage-only event. Defaults to the
   * completion's own `usage` field, normalized.
   */
  readonly usage?: Usage
}

type ChunkChoice = ChatCompletionChunk["choices"][number]
type ChunkDelta = ChunkChoice["delta"]

// Message fields with a delta form of their own. Any other field (such as
// `annotations`) is copied into the role chunk, because the OpenAI SDK copies
// unknown delta fields into the message.
const STREAMED_MESSAGE_FIELDS = new Set(["role", "content", "refusal", "tool_calls", "function_call"])

// Tool-call fields that the replay streams itself. Any other field (such as
// Gemini's `extra_content`) is copied into the tool call's opening chunk.
const TOOL_CALL_FIELDS = new Set(["index", "id", "type", "function"])

// Choice fields that the replay handles itself. Any other choice field is
// copied into the choice of the role chunk.
const CHOICE_FIELDS = new Set(["index", "message", "finish_reason", "logprobs"])

// Completion fields that the replay sets per chunk. Any other field (such as
// `system_fingerprint`) is copied into every chunk.
const COMPLETION_FIELDS = new Set(["id", "object", "created", "model", "choices", "usage"])

/**
 * Splits text into pieces of `size` code units. A piece that would end
 * between the two halves of a surrogate pair takes the second half too, so
 * it is one unit longer. Returns no pieces for empty text.
 */
const splitText = (text: string, size: number): Array<string> => {
  const pieces: Array<string> = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + size, text.length)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end += 1
    pieces.push(text.slice(start, end))
    start = end
  }
  return pieces
}

const pickExtraFields = (source: object, known: ReadonlySet<string>): Record<string, unknown> => {
  const extra: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(source)) {
    if (!known.has(name) && value !== undefined) extra[name] = value
  }
  return extra
}

const choiceChunks = (choice: ChatCompletion["choices"][number]): Array<ChunkChoice> => {
  const index = choice.index
  const message = choice.message
  const chunks: Array<ChunkChoice> = []
  const push = (delta: ChunkDelta, extra: Record<string, unknown> = {}) =>
    chunks.push({ index, delta, finish_reason: null, ...extra })

  // A null content opens with null, so that folding the chunks gives back
  // null rather than an empty string.
  const content = typeof message.content === "string" ? message.content : null
  push(
    { role: "assistant", content: content === null ? null : "", ...pickExtraFields(message, STREAMED_MESSAGE_FIELDS) },
    { logprobs: choice.logprobs ?? null, ...pickExtraFields(choice, CHOICE_FIELDS) }
  )

  for (const piece of splitText(content ?? "", REPLAY_PIECE_CHARS)) push({ content: piece })

  const refusal = typeof message.refusal === "string" ? message.refusal : ""
  for (const piece of splitText(refusal, REPLAY_PIECE_CHARS)) push({ refusal: piece })

  const functionCall = message.function_call as { name?: unknown; arguments?: unknown } | undefined
  if (typeof functionCall === "object" && functionCall !== null) {
    push({ function_call: { name: functionCall.name, arguments: functionCall.arguments } })
  }

  const toolCalls = message.tool_calls ?? []
  toolCalls.forEach((call, callIndex) => {
    const opening: ChatCompletionChunkToolCall = {
      index: callIndex,
      id: call.id,
      type: "function",
      function: { name: call.function.name, arguments: "" },
      ...pickExtraFields(call, TOOL_CALL_FIELDS)
    }
    push({ tool_calls: [opening] })
    for (const piece of splitText(call.function.arguments, REPLAY_PIECE_CHARS)) {
      push({ tool_calls: [{ index: callIndex, function: { arguments: piece } }] })
    }
  })

  chunks.push({ index, delta: {}, finish_reason: choice.finish_reason, logprobs: null })
  return chunks
}

const toEvent = (chunk: ChatCompletionChunk, usage?: Usage): StreamEvent =>
  usage === undefined
    ? { data: JSON.stringify(chunk), json: chunk }
    : { data: JSON.stringify(chunk), json: chunk, usage, usageOnly: true }

const replayedChunkIsInvalid = () => new Error("A replayed chunk is not valid JSON.")

/**
 * A replayed chunk that parses its text on every read of `json` and keeps
 * nothing, so a kept list stays the size of its text however often it is
 * relayed, and no reader's changes reach the next stream.
 */
class ReplayedChunk extends LazyStreamEvent {
  constructor(data: string) {
    super({ data }, replayedChunkIsInvalid)
  }

  override get json(): unknown {
    return JSON.parse(this.data)
  }
}

/** The replayed usage-only chunk, which also carries its usage. */
class ReplayedUsageChunk extends ReplayedChunk {
  readonly usageOnly = true

  constructor(
    data: string,
    readonly usage: Usage
  ) {
    super(data)
  }
}

/** Keeps only the text of an event, and the usage of the usage-only one, without the parsed chunk. */
const withoutPayload = (event: StreamEvent): StreamEvent => {
  if (event.done === true) return event
  return event.usage === undefined ? new ReplayedChunk(event.data) : new ReplayedUsageChunk(event.data, event.usage)
}

/**
 * Turns a chat completion into the stream events an OpenAI server would have
 * sent for it. The events are built when the iterable is first read. A
 * reader of `eventBatchesOf` gets them as one batch, because the whole
 * completion is at hand and nothing is gained by handing them out one by one.
 */
export const chatCompletionToStreamEvents = (
  completion: ChatCompletion,
  options: ChatStreamReplayOptions
): AsyncIterable<StreamEvent> =>
  batchedEvents(async function* () {
    yield replayEvents(completion, options)
  })

/**
 * The events of {@link chatCompletionToStreamEvents}, built now, for a caller
 * that replays the same completion many times and keeps them. The chunk
 * events keep only their text and parse it on each read of `json`, so the
 * kept events take about the size of the stream's text. Nothing in them changes when they are relayed,
 * so one list can serve several streams.
 */
export const chatCompletionToEventList = (completion: ChatCompletion, options: ChatStreamReplayOptions): ReadonlyArray<StreamEvent> =>
  replayEvents(completion, options).map(withoutPayload)

/** Streams a list of events, such as one from {@link chatCompletionToEventList}, as one batch. */
export const streamEventList = (events: ReadonlyArray<StreamEvent>): AsyncIterable<StreamEvent> =>
  batchedEvents(async function* () {
    yield events
  })

const replayEvents = (completion: ChatCompletion, options: ChatStreamReplayOptions): Array<StreamEvent> => {
  const header = {
    id: completion.id,
    object: "chat.completion.chunk" as const,
    created: completion.created,
    model: completion.model,
    ...pickExtraFields(completion, COMPLETION_FIELDS)
  }
  const events: Array<StreamEvent> = []
  const choices = [...completion.choices].sort((a, b) => a.index - b.index)
  for (const choice of choices) {
    for (const chunkChoice of choiceChunks(choice)) events.push(toEvent({ ...header, choices: [chunkChoice] }))
  }

  const usage = options.usage ?? usageFromOpenAI(completion.usage)
  if (options.includeUsage && usage !== undefined) {
    events.push(toEvent({ ...header, choices: [], usage: completion.usage ?? usageToOpenAI(usage) }, usage))
  }
  events.push({ data: "[DONE]", done: true })
  return events
}
