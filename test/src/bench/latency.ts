/** Latency samples and their percentiles. */
import type { LatencySummary } from "./protocol.js"

/** A growable array of latencies in milliseconds. */
export class LatencyRecorder {
  private samples = new Float64Array(65_536)
  private length = 0

  get count(): number {
    return this.length
  }

  add(milliseconds: number): void {
    if (this.length === this.samples.length) {
      const larger = new Float64Array(this.samples.length * 2)
      larger.set(this.samples)
      this.samples = larger
    }
    this.samples[this.length++] = milliseconds
  }

  summarize(): LatencySummary {
    return summarizeLatencies(this.samples.subarray(0, this.length))
  }
}

/** Returns the nearest-rank percentile `p` (0 < p <= 100) of ascending `sorted`, or 0 when it is empty. */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!
}

/** Sorts a copy of `samples` and returns its mean, percentiles and maximum. */
export const summarizeLatencies = (samples: Float64Array): LatencySummary => {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!
  }
}
