/**
 * Whole events of a stream kept as the bytes they arrived in, so that a
 * gateway can relay them to its client without decoding, parsing or
 * formatting them again. An adapter makes one only for events it would
 * otherwise pass on as `LazyStreamEvent`s: events with nothing for the
 * gateway to act on (see `findPlainEventRun`). Their events are parsed
 * only when something reads them.
 */
import { LazyStreamEvent } from "./LazyStreamEvent.js"
import type { StreamEvent } from "./Provider.js"
import { SseParser } from "./Sse.js"

export class SseBytes {
  constructor(
    /** Whole events, each ended by its blank line. */
    readonly bytes: Uint8Array,
    /** Number of events in `bytes`. */
    readonly eventCount: number,
    /** The error thrown when an event's payload, once read, is not valid JSON. */
    private readonly invalid: () => Error
  ) {}

  /** Parses the events, each with its payload parsed when first read. */
  events(): Array<StreamEvent> {
    return new SseParser().push(this.bytes).map((event) => new LazyStreamEvent(event, this.invalid))
  }
}
