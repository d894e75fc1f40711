import { describe, expect, it } from "vitest"
import { SpanQueue } from "./SpanQueue.js"

describe("SpanQueue", () => {
  it("drops and counts overflowing spans", () => {
    const queue = new SpanQueue<number>(3, 2)

    const added = [1, 2, 3, 4, 5].map((span) => queue.offer(span))

    expect(added).toEqual([true, true, true, false, false])
    expect(queue.size).toBe(3)
    expect(queue.takeDropped()).toBe(2)
    expect(queue.takeDropped()).toBe(0)
  })

  it("takes the oldest spans in batches", () => {
    const queue = new SpanQueue<number>(10, 2)
    for (const span of [1, 2, 3]) queue.offer(span)

    expect(queue.takeBatch()).toEqual([1, 2])
    expect(queue.takeBatch()).toEqual([3])
    expect(queue.takeBatch()).toEqual([])
  })

  it("accepts spans again once drained", () => {
    const queue = new SpanQueue<number>(2, 2)
    for (const span of [1, 2, 3]) queue.offer(span)
    queue.takeBatch()

    expect(queue.offer(4)).toBe(true)
  })

  it("signals once per full batch", () => {
    const queue = new SpanQueue<number>(10, 3)
    let signals = 0
    queue.onBatchReady = () => signals++

    for (const span of [1, 2, 3, 4, 5]) queue.offer(span)

    expect(signals).toBe(1)
  })
})
