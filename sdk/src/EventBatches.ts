/**
 * A stream's events grouped as they arrived: one batch per network read.
 *
 * `StreamResult.events` yields one event at a time, and each step of an
 * async iterator costs a promise and a turn of the microtask queue. A
 * chat stream carries dozens of small events per read, so on a gateway's
 * path those steps are a measurable share of a streamed request's cost.
 * An adapter that makes its events with {@link batchedEvents} still
 * returns an ordinary `AsyncIterable<StreamEvent>`, and a host that calls
 * {@link eventBatchesOf} may read the same events a batch at a time.
 *
 * The batches belong to the iterable itself, so a hook that wraps or
 * replaces `events` drops them, and the host reads the events the hook
 * gives it.
 */
import type { StreamEvent } from "./Provider.js"
import { SseBytes } from "./SseBytes.js"

const EventBatchesKey: unique symbol = Symbol.for("@fluxen/sdk/EventBatches")

type Carrier = AsyncIterable<StreamEvent> & {
  readonly [EventBatchesKey]?: () => AsyncIterator<ReadonlyArray<StreamEvent>>
}

/**
 * Makes the events of a stream from a function that yields them in
 * batches. Each read of the result, as events or as batches, calls
 * `readBatches` once. A function that returns the same iterator each time
 * (a stream already started) makes events that can be read only once. A
 * batch must not be empty.
 */
export const batchedEvents = (readBatches: () => AsyncIterableIterator<ReadonlyArray<StreamEvent>>): AsyncIterable<StreamEvent> => {
  const events: Carrier = {
    async *[Symbol.asyncIterator]() {
      for await (const batch of readBatches()) yield* batch
    },
    [EventBatchesKey]: readBatches
  }
  return events
}

/** Starts reading `events` a batch at a time, when {@link batchedEvents} made it; otherwise returns undefined. */
export const eventBatchesOf = (events: AsyncIterable<StreamEvent>): AsyncIterator<ReadonlyArray<StreamEvent>> | undefined =>
  (events as Carrier)[EventBatchesKey]?.()

/**
 * The part of a stream that an adapter reads per network read: a batch of
 * events, or whole events kept as their bytes ({@link SseBytes}).
 */
export type StreamChunk = ReadonlyArray<StreamEvent> | SseBytes

const StreamChunksKey: unique symbol = Symbol.for("@fluxen/sdk/StreamChunks")

type ChunkCarrier = Carrier & {
  readonly [StreamChunksKey]?: () => AsyncIterator<StreamChunk>
}

const asBatch = (chunk: StreamChunk): ReadonlyArray<StreamEvent> => (chunk instanceof SseBytes ? chunk.events() : chunk)

// Not a generator: `return` must reach `chunks` even before the first `next`, so that a
// stream dropped unread releases its connection.
const batchesOfChunks = (chunks: AsyncIterator<StreamChunk>): AsyncIterator<ReadonlyArray<StreamEvent>> => ({
  next: async () => {
    const next = await chunks.next()
    return next.done === true ? next : { done: false, value: asBatch(next.value) }
  },
  return: async (value?: unknown) => {
    await chunks.return?.()
    return { done: true, value }
  }
})

/**
 * Makes the events of a stream from a function that yields them in chunks,
 * as {@link batchedEvents} does from batches. A host that calls
 * {@link streamChunksOf} receives the chunks as they are, and may relay the
 * bytes of an {@link SseBytes} unchanged. Every other reader gets events,
 * with those bytes parsed.
 */
export const chunkedEvents = (readChunks: () => AsyncIterableIterator<StreamChunk>): AsyncIterable<StreamEvent> => {
  const events: ChunkCarrier = {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of readChunks()) yield* asBatch(chunk)
    },
    [EventBatchesKey]: () => batchesOfChunks(readChunks()),
    [StreamChunksKey]: readChunks
  }
  return events
}

/** Starts reading `events` a chunk at a time, when {@link chunkedEvents} made it; otherwise returns undefined. */
export const streamChunksOf = (events: AsyncIterable<StreamEvent>): AsyncIterator<StreamChunk> | undefined =>
  (events as ChunkCarrier)[StreamChunksKey]?.()
