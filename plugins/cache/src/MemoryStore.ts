/**
 * An in-process store: a least-recently-used map bounded in bytes, with a
 * TTL per entry. Entries are lost when the process stops and are not shared
 * between gateway instances. An expired entry is removed when it is looked
 * up or when it is evicted to make room, and counts against `maxBytes` until
 * then.
 */
import { Clock, Effect } from "effect"
import type { CacheEntry, CacheStore } from "./CacheStore.js"

/**
 * Bytes charged per entry on top of its key and body: an estimate of the
 * map slot, the entry object and the usage object.
 */
export const ENTRY_OVERHEAD_BYTES = 256

interface StoredRecord {
  readonly entry: CacheEntry
  /** Epoch milliseconds after which the entry is gone. */
  readonly expiresAt: number
  readonly bytes: number
}

export interface MemoryStoreStats {
  readonly entries: number
  /** The charged size of all entries; see {@link ENTRY_OVERHEAD_BYTES}. */
  readonly bytes: number
  readonly maxBytes: number
  /** Entries removed to make room, since the store was made. */
  readonly evictions: number
}

export interface MemoryStore extends CacheStore {
  readonly stats: () => MemoryStoreStats
}

/**
 * The size charged for an entry: the UTF-8 length of its key and body plus
 * {@link ENTRY_OVERHEAD_BYTES}.
 *
 * NOTE: this estimates the heap used. V8 keeps a string with any character
 * outside Latin-1 at two bytes per character, so such text can use up to
 * twice the charged size.
 */
export const chargedBytes = (key: string, entry: CacheEntry): number =>
  ENTRY_OVERHEAD_BYTES + key.length + Buffer.byteLength(entry.body, "utf8")

export const makeMemoryStore = (options: { readonly maxBytes: number }): MemoryStore => {
  // A Map iterates in insertion order, so re-inserting an entry on each use
  // keeps the least recently used one first.
  const records = new Map<string, StoredRecord>()
  let totalBytes = 0
  let evictions = 0

  const remove = (key: string, record: StoredRecord) => {
    records.delete(key)
    totalBytes -= record.bytes
  }

  const getNow = (key: string, now: number): CacheEntry | undefined => {
    const record = records.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= now) {
      remove(key, record)
      return undefined
    }
    records.delete(key)
    records.set(key, record)
    return record.entry
  }

  const setNow = (key: string, entry: CacheEntry, ttlMs: number, now: number): void => {
    const bytes = chargedBytes(key, entry)
    const previous = records.get(key)
    if (previous !== undefined) remove(key, previous)
    // An entry larger than the whole store would evict everything and still not fit.
    if (bytes > options.maxBytes) return
    evictUntilFits(bytes)
    records.set(key, { entry, expiresAt: now + ttlMs, bytes })
    totalBytes += bytes
  }

  const evictUntilFits = (incomingBytes: number) => {
    for (const [key, record] of records) {
      if (totalBytes + incomingBytes <= options.maxBytes) return
      remove(key, record)
      evictions++
    }
  }

  return {
    kind: "memory",

    get: (key) => Effect.map(Clock.currentTimeMillis, (now) => getNow(key, now)),

    getNow,

    set: (key, entry, ttlMs) => Effect.map(Clock.currentTimeMillis, (now) => setNow(key, entry, ttlMs, now)),

    setNow,

    stats: () => ({ entries: records.size, bytes: totalBytes, maxBytes: options.maxBytes, evictions })
  }
}
