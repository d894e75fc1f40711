/**
 * The replayed stream events of entries that the memory store returned,
 * kept for the next streamed hit of the same entry. Building the events of
 * a stored completion (a JSON parse and one JSON text per chunk) was about
 * a sixth of a streamed hit's CPU time.
 *
 * The memo keeps at most `maxBytes`, counting the text of its events and the
 * body of each entry it keeps alive, and drops the least recently used
 * first. It is keyed by the entry object, which the memory store returns on
 * every hit until it evicts the entry. A store that makes a new object per
 * lookup (Redis) gets no memo.
 */
import type { StreamEvent } from "@fluxen/sdk"
import type { CacheEntry } from "./CacheStore.js"

interface Replay {
  readonly events: ReadonlyArray<StreamEvent>
  readonly bytes: number
}

/** Approximate memory of a string: two bytes per UTF-16 code unit. */
const sizeOfText = (text: string): number => text.length * 2

export class ReplayMemo {
  // A Map keeps insertion order: a read moves its entry to the end, so the first is the least recently used.
  readonly #replays = new Map<CacheEntry, Replay>()
  #bytes = 0

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.#replays.size
  }

  get bytes(): number {
    return this.#bytes
  }

  get(entry: CacheEntry): ReadonlyArray<StreamEvent> | undefined {
    const replay = this.#replays.get(entry)
    if (replay === undefined) return undefined
    this.#replays.delete(entry)
    this.#replays.set(entry, replay)
    return replay.events
  }

  /** Keeps the events of `entry`, unless they alone exceed `maxBytes`. */
  set(entry: CacheEntry, events: ReadonlyArray<StreamEvent>): void {
    let bytes = sizeOfText(entry.body)
    for (const event of events) bytes += sizeOfText(event.data)
    if (bytes > this.maxBytes) return
    this.delete(entry)
    this.#replays.set(entry, { events, bytes })
    this.#bytes += bytes
    for (const [oldest, replay] of this.#replays) {
      if (this.#bytes <= this.maxBytes) break
      this.#replays.delete(oldest)
      this.#bytes -= replay.bytes
    }
  }

  delete(entry: CacheEntry): void {
    const replay = this.#replays.get(entry)
    if (replay === undefined) return
    this.#replays.delete(entry)
    this.#bytes -= replay.bytes
  }
}
