/**
 * The bounded queue between the request hooks and the export fiber. Hooks
 * call `offer`, a plain array push that never waits. When the queue is full
 * the span is dropped and counted, so a slow or dead collector costs
 * requests neither time nor unbounded memory.
 */
export class SpanQueue<A> {
  private items: Array<A> = []
  /** Spans dropped because the queue was full, since the last `takeDropped`. */
  private dropped = 0
  /** Called when the queue reaches `batchSize` spans, so the export fiber need not wait for its interval. */
  onBatchReady: (() => void) | undefined = undefined

  constructor(
    readonly maxSize: number,
    readonly batchSize: number
  ) {}

  get size(): number {
    return this.items.length
  }

  /** Adds a span, or drops and counts it when the queue is full. Returns whether it was added. */
  offer(item: A): boolean {
    if (this.items.length >= this.maxSize) {
      this.dropped++
      return false
    }
    this.items.push(item)
    if (this.items.length === this.batchSize) this.onBatchReady?.()
    return true
  }

  /** Removes and returns up to `batchSize` of the oldest spans. */
  takeBatch(): Array<A> {
    if (this.items.length <= this.batchSize) {
      const all = this.items
      this.items = []
      return all
    }
    return this.items.splice(0, this.batchSize)
  }

  /** Returns the number of spans dropped since the previous call, and resets it. */
  takeDropped(): number {
    const count = this.dropped
    this.dropped = 0
    return count
  }
}
