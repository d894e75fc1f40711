import type { StreamEvent } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import type { CacheEntry } from "./CacheStore.js"
import { ReplayMemo } from "./ReplayMemo.js"

const entryOf = (body: string): CacheEntry => ({ body, storedAt: 0 }) as unknown as CacheEntry

/** Makes events whose texts add up to `chars` code units. */
const eventsOf = (chars: number): ReadonlyArray<StreamEvent> => [{ data: "x".repeat(chars) }]

describe("ReplayMemo", () => {
  it("same entry: kept events", () => {
    const memo = new ReplayMemo(1_000)
    const entry = entryOf("{}")
    const events = eventsOf(10)
    memo.set(entry, events)

    expect(memo.get(entry)).toBe(events)
    expect(memo.get(entryOf("{}"))).toBeUndefined()
    expect(memo.bytes).toBe((2 + 10) * 2)
  })

  it("full: drops least recently used", () => {
    const memo = new ReplayMemo(100)
    const [first, second, third] = [entryOf("a"), entryOf("b"), entryOf("c")]
    memo.set(first, eventsOf(19))
    memo.set(second, eventsOf(19))
    memo.get(first)
    memo.set(third, eventsOf(19))

    expect(memo.get(second)).toBeUndefined()
    expect(memo.get(first)).toBeDefined()
    expect(memo.get(third)).toBeDefined()
    expect(memo.size).toBe(2)
    expect(memo.bytes).toBe(80)
  })

  it("oversized and replaced events", () => {
    const memo = new ReplayMemo(100)
    const entry = entryOf("a")
    memo.set(entry, eventsOf(60))
    memo.set(entry, eventsOf(9))
    memo.set(entry, eventsOf(9))

    expect(memo.size).toBe(1)
    expect(memo.bytes).toBe(20)
  })
})
