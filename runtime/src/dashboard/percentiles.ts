/** Latency percentiles by the nearest-rank method. */

export interface Percentiles {
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

/**
 * Returns the value at rank `ceil(q × n)` of the ascending `sorted` values
 * (the nearest-rank method, so every result is an observed value), or
 * undefined for an empty array.
 */
export const nearestRank = (sorted: ReadonlyArray<number>, q: number): number | undefined => {
  if (sorted.length === 0) return undefined
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]
}

/** Computes p50, p95 and p99, or returns null when there are no values. The input is not modified. */
export const percentilesOf = (values: ReadonlyArray<number>): Percentiles | null => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: nearestRank(sorted, 0.5)!, p95: nearestRank(sorted, 0.95)!, p99: nearestRank(sorted, 0.99)! }
}
