/** A Prometheus histogram with fixed buckets, updated with plain arithmetic. */
import { formatSampleValue, joinLabels, type ExpositionWriter } from "./PrometheusText.js"

/**
 * Upper bounds in seconds, for latencies of LLM calls: from a few
 * milliseconds (a cache hit) to five minutes (a long generation).
 */
export const latencyBucketsSeconds: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300
]

export class Histogram {
  /** Observations per bucket, not cumulative; the last slot counts values above every bound. */
  private readonly counts: Array<number>
  count = 0
  sum = 0

  constructor(private readonly bounds: ReadonlyArray<number> = latencyBucketsSeconds) {
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    let index = 0
    while (index < this.bounds.length && value > this.bounds[index]!) index++
    this.counts[index]!++
    this.count++
    this.sum += value
  }

  /** Writes the `_bucket` samples with cumulative counts, then `_sum` and `_count`. */
  write(writer: ExpositionWriter, name: string, labels: string): void {
    let cumulative = 0
    for (let index = 0; index < this.bounds.length; index++) {
      cumulative += this.counts[index]!
      writer.sample(`${name}_bucket`, joinLabels(labels, `le="${formatSampleValue(this.bounds[index]!)}"`), cumulative)
    }
    writer.sample(`${name}_bucket`, joinLabels(labels, 'le="+Inf"'), this.count)
    writer.sample(`${name}_sum`, labels, this.sum)
    writer.sample(`${name}_count`, labels, this.count)
  }
}
