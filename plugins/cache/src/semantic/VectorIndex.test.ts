import { describe, expect, it } from "vitest"
import { randomUnitVector, seededRandom } from "../testing/vectors.js"
import { VectorIndex } from "./VectorIndex.js"

const random = seededRandom(11)
const vector = () => randomUnitVector(random, 8)

describe("VectorIndex", () => {
  it("finds an entry in its own partition only", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    const stored = vector()
    index.add({ id: "a", partition: "p1", vector: stored, expiresAt: 1_000 })

    expect(index.search("p1", stored, 0)).toEqual({ id: "a", similarity: expect.closeTo(1, 5) })
    expect(index.search("p2", stored, 0)).toBeUndefined()
  })

  it("returns the most similar entry", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    const vectors = Array.from({ length: 20 }, vector)
    vectors.forEach((entry, i) => index.add({ id: `e${i}`, partition: "p", vector: entry, expiresAt: 1_000 }))

    expect(index.search("p", vectors[7]!, 0)?.id).toBe("e7")
  })

  it("looks past rejected near entries", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    const query = vector()
    // Six entries nearly equal to the query, and an `accept` that takes only the sixth it is shown.
    for (let i = 0; i < 6; i++) {
      const entry = Float32Array.from(query, (value) => value + (i + 1) * 0.001 * random())
      index.add({ id: `near${i}`, partition: "p", vector: entry, expiresAt: 1_000 })
    }
    let looked = 0

    const found = index.search("p", query, 0, () => ++looked === 6, 0.5)

    expect(found).toBeDefined()
    expect(looked).toBe(6)
  })

  it("does not widen below the threshold", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    Array.from({ length: 6 }, (_, i) => index.add({ id: `e${i}`, partition: "p", vector: vector(), expiresAt: 1_000 }))
    let looked = 0

    const found = index.search("p", vector(), 0, () => {
      looked++
      return false
    }, 2)

    expect(found).toBeUndefined()
    expect(looked).toBe(4)
  })

  it("skips and removes expired entries", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    const stored = vector()
    index.add({ id: "old", partition: "p", vector: stored, expiresAt: 100 })
    index.add({ id: "new", partition: "p", vector: vector(), expiresAt: 1_000 })

    expect(index.search("p", stored, 50)?.id).toBe("old")
    expect(index.search("p", stored, 100)?.id).toBe("new")
    expect(index.stats()).toMatchObject({ entries: 1, expirations: 1 })
  })

  it("removes expired entries in a sweep", () => {
    const index = new VectorIndex({ maxEntries: 100 })
    for (let i = 0; i < 10; i++) index.add({ id: `e${i}`, partition: `p${i % 3}`, vector: vector(), expiresAt: i < 6 ? 100 : 200 })

    expect(index.removeExpired(150)).toBe(6)
    expect(index.stats()).toMatchObject({ entries: 4, expirations: 6 })
  })

  it("evicts the oldest entries past maxEntries", () => {
    const index = new VectorIndex({ maxEntries: 3 })
    const vectors = Array.from({ length: 5 }, vector)
    vectors.forEach((entry, i) => index.add({ id: `e${i}`, partition: `p${i}`, vector: entry, expiresAt: 1_000 }))

    expect(index.size).toBe(3)
    expect(index.search("p0", vectors[0]!, 0)).toBeUndefined()
    expect(index.search("p1", vectors[1]!, 0)).toBeUndefined()
    expect(index.search("p4", vectors[4]!, 0)?.id).toBe("e4")
    expect(index.stats()).toMatchObject({ evictions: 2, partitions: 3 })
  })

  it("replaces an entry with the same id", () => {
    const index = new VectorIndex({ maxEntries: 10 })
    const first = vector()
    const second = vector()
    index.add({ id: "k", partition: "p", vector: first, expiresAt: 1_000 })
    index.add({ id: "k", partition: "p", vector: second, expiresAt: 2_000 })

    expect(index.size).toBe(1)
    expect(index.has("k", 2_000)).toBe(true)
    expect(index.has("k", 1_000)).toBe(false)
    expect(index.search("p", second, 0)?.similarity).toBeCloseTo(1, 5)
  })

  it("rejects a vector of another length in a partition", () => {
    const index = new VectorIndex({ maxEntries: 10 })
    index.add({ id: "a", partition: "p", vector: vector(), expiresAt: 1_000 })

    expect(index.add({ id: "b", partition: "p", vector: randomUnitVector(random, 4), expiresAt: 1_000 })).toBe(false)
    expect(index.search("p", randomUnitVector(random, 4), 0)).toBeUndefined()
    expect(index.stats()).toMatchObject({ entries: 1, rejected: 1 })
  })

  it("drops a partition when its last entry goes", () => {
    const index = new VectorIndex({ maxEntries: 10 })
    index.add({ id: "a", partition: "p", vector: vector(), expiresAt: 1_000 })

    expect(index.remove("a")).toBe(true)
    expect(index.remove("a")).toBe(false)
    expect(index.stats()).toMatchObject({ entries: 0, partitions: 0 })
  })
})
