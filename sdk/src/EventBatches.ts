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
