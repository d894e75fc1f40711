import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { CacheEntry } from "./CacheStore.js"
import { chargedBytes, ENTRY_OVERHEAD_BYTES, makeMemoryStore } from "./MemoryStore.js"

const HOUR = 3_600_000

const entryOf = (text: string): CacheEntry => ({ storedAt: 0, body: JSON.stringify({ text }) })

// Keys of one length and bodies of one length, so every entry is charged the same.
const key = (n: number) => `key-${String(n).padStart(3, "0")}`
const body = (n: number) => entryOf(`body ${String(n).padStart(3, "0")} ${"x".repeat(100)}`)
const entrySize = chargedBytes(key(0), body(0))

describe("MemoryStore", () => {
  it.effect("returns what was stored", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 10 * entrySize })

      yield* store.set(key(1), body(1), HOUR)

      expect(yield* store.get(key(1))).toEqual(body(1))
      expect(yield* store.get(key(2))).toBeUndefined()
    }))

  it.effect("evicts the least recently used past maxBytes", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 3 * entrySize })

      for (const n of [1, 2, 3, 4]) yield* store.set(key(n), body(n), HOUR)

      expect(yield* store.get(key(1))).toBeUndefined()
      expect(yield* store.get(key(2))).toEqual(body(2))
      expect(yield* store.get(key(4))).toEqual(body(4))
      expect(store.stats()).toEqual({ entries: 3, bytes: 3 * entrySize, maxBytes: 3 * entrySize, evictions: 1 })
    }))

  it.effect("keeps an entry that was just read", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 3 * entrySize })
      for (const n of [1, 2, 3]) yield* store.set(key(n), body(n), HOUR)

      yield* store.get(key(1))
      yield* store.set(key(4), body(4), HOUR)

      expect(yield* store.get(key(1))).toEqual(body(1))
      expect(yield* store.get(key(2))).toBeUndefined()
    }))

  it.effect("evicts as many entries as a large one needs", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 4 * entrySize })
      for (const n of [1, 2, 3, 4]) yield* store.set(key(n), body(n), HOUR)
      const large = entryOf("y".repeat(2 * entrySize))
      const largeSize = chargedBytes(key(5), large)
      expect(largeSize).toBeLessThan(4 * entrySize)

      yield* store.set(key(5), large, HOUR)

      expect(store.stats().evictions).toBe(3)
      expect(store.stats().bytes).toBe(largeSize + entrySize)
      expect(yield* store.get(key(4))).toEqual(body(4))
    }))

  it.effect("skips an entry larger than the store", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 2 * entrySize })
      yield* store.set(key(1), body(1), HOUR)

      yield* store.set(key(2), entryOf("z".repeat(3 * entrySize)), HOUR)

      expect(yield* store.get(key(2))).toBeUndefined()
      expect(yield* store.get(key(1))).toEqual(body(1))
    }))

  it.effect("replaces an entry and its size", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 10 * entrySize })
      yield* store.set(key(1), body(1), HOUR)

      yield* store.set(key(1), body(2), HOUR)

      expect(yield* store.get(key(1))).toEqual(body(2))
      expect(store.stats()).toMatchObject({ entries: 1, bytes: entrySize })
    }))

  it.effect("expires entries after their TTL", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore({ maxBytes: 10 * entrySize })
      yield* store.set(key(1), body(1), 1_000)
      yield* store.set(key(2), body(2), 5_000)

      yield* TestClock.adjust("999 millis")
      expect(yield* store.get(key(1))).toEqual(body(1))

      yield* TestClock.adjust("1 millis")
      expect(yield* store.get(key(1))).toBeUndefined()
      expect(yield* store.get(key(2))).toEqual(body(2))
      expect(store.stats()).toMatchObject({ entries: 1, bytes: entrySize })
    }))

  it("charges key, UTF-8 body and overhead", () => {
    const entry = entryOf("é")

    expect(chargedBytes("abc", entry)).toBe(ENTRY_OVERHEAD_BYTES + 3 + Buffer.byteLength(entry.body))
    expect(Buffer.byteLength(entry.body)).toBe(entry.body.length + 1)
  })
})
