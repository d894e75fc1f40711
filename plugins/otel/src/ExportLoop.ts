/**
 * The background fiber that exports queued spans in batches: every
 * `intervalMs`, or as soon as a full batch is waiting. It runs in the
 * plugin's scope. Closing the scope stops it after the batch being sent,
 * then exports what is still queued within `timeoutMs`.
 *
 * A failed export drops its batch without retrying, so a dead collector
 * keeps no spans in memory, and the next attempt waits a whole interval. Its warning is logged at most once per
 * `warningIntervalMs`, with the number of spans lost since the previous one,
 * so it does not flood the log either.
 */
import { Effect } from "effect"
import type { SendResult } from "./OtlpSender.js"
import type { FinishedSpan } from "./RequestSpan.js"
import type { SpanQueue } from "./SpanQueue.js"

export const DEFAULT_WARNING_INTERVAL_MS = 10_000

export interface ExportStats {
  /** Spans the collector accepted. */
  exportedSpans: number
  /** Spans lost to failed exports or rejected by the collector. */
  failedSpans: number
  /** Spans dropped because the queue was full. */
  droppedSpans: number
}

export interface ExportLoopOptions {
  readonly queue: SpanQueue<FinishedSpan>
  readonly send: (spans: ReadonlyArray<FinishedSpan>) => Effect.Effect<SendResult>
  readonly intervalMs: number
  /** Maximum time for exporting the spans still queued when the scope closes. */
  readonly timeoutMs: number
  readonly warningIntervalMs?: number
  /** Added to every log line, such as the plugin name and the collector URL. */
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Sums events and hands the sum out at most once per interval, for warnings that must not repeat on every event. */
class ThrottledCount {
  private count = 0
  private lastReleasedMs = Number.NEGATIVE_INFINITY

  constructor(private readonly intervalMs: number) {}

  add(events: number): void {
    this.count += events
  }

  /** Returns the sum since the previous release and resets it, or 0 while the interval has not passed (unless `force`). */
  release(force = false): number {
    const nowMs = Date.now()
    if (this.count === 0 || (!force && nowMs - this.lastReleasedMs < this.intervalMs)) return 0
    this.lastReleasedMs = nowMs
    const count = this.count
    this.count = 0
    return count
  }
}

/** Starts the export fiber in the current scope and returns its counters. */
export const startExportLoop = (options: ExportLoopOptions) =>
  Effect.gen(function* () {
    const { queue, send, annotations } = options
    const warningIntervalMs = options.warningIntervalMs ?? DEFAULT_WARNING_INTERVAL_MS
    const stats: ExportStats = { exportedSpans: 0, failedSpans: 0, droppedSpans: 0 }
    const failed = new ThrottledCount(warningIntervalMs)
    const rejected = new ThrottledCount(warningIntervalMs)
    const dropped = new ThrottledCount(warningIntervalMs)
    let lastFailure: Extract<SendResult, { _tag: "Failed" }> | undefined
    let lastRejection = ""
    // Spans taken from the queue whose export has not finished, counted as lost if shutdown cuts it short.
    let sending = 0
    let lastExportFailed = false

    const countResult = (spans: number, result: SendResult): void => {
      lastExportFailed = result._tag === "Failed"
      if (result._tag === "Failed") {
        stats.failedSpans += spans
        failed.add(spans)
        lastFailure = result
        return
      }
      stats.exportedSpans += spans - result.rejectedSpans
      stats.failedSpans += result.rejectedSpans
      if (result.rejectedSpans > 0) {
        rejected.add(result.rejectedSpans)
        lastRejection = result.rejectionMessage
      }
    }

    const exportBatch = Effect.suspend(() => {
      const batch = queue.takeBatch()
      if (batch.length === 0) return Effect.void
      sending = batch.length
      return Effect.map(send(batch), (result) => {
        sending = 0
        countResult(batch.length, result)
      })
    })

    const logWarnings = (force: boolean) =>
      Effect.suspend(() => {
        const warnings: Array<Effect.Effect<void>> = []
        const failedCount = failed.release(force)
        if (failedCount > 0 && lastFailure !== undefined) {
          const status = lastFailure.httpStatus
          const hint = status === 401 || status === 403 ? " Check the API key under headers." : ""
          warnings.push(
            Effect.logWarning(`Exporting spans to the OTLP collector failed, so they were dropped.${hint}`).pipe(
              Effect.annotateLogs({ "spans.lost": failedCount, error: lastFailure.reason, ...(status === undefined ? {} : { "http.status": status }) })
            )
          )
        }
        const rejectedCount = rejected.release(force)
        if (rejectedCount > 0) {
          warnings.push(
            Effect.logWarning("The OTLP collector rejected spans.").pipe(Effect.annotateLogs({ "spans.lost": rejectedCount, error: lastRejection }))
          )
        }
        const newlyDropped = queue.takeDropped()
        stats.droppedSpans += newlyDropped
        dropped.add(newlyDropped)
        const droppedCount = dropped.release(force)
        if (droppedCount > 0) {
          warnings.push(
            Effect.logWarning("The span queue was full, so spans were dropped. Raise batch.maxQueueSize or lower sampleRatio.").pipe(
              Effect.annotateLogs({ "spans.dropped": droppedCount })
            )
          )
        }
        return Effect.all(warnings, { discard: true }).pipe(Effect.annotateLogs(annotations))
      })

    // Waits for the interval, or less when a full batch is waiting. Clearing the callback on
    // every exit keeps a late `onBatchReady` from resuming a wait that has already ended.
    const waitForBatch = Effect.async<void>((resume) => {
      const finish = () => {
        clearTimeout(timer)
        queue.onBatchReady = undefined
        resume(Effect.void)
      }
      const timer = setTimeout(finish, options.intervalMs)
      queue.onBatchReady = finish
      return Effect.sync(() => {
        clearTimeout(timer)
        queue.onBatchReady = undefined
      })
    })

    const step = Effect.gen(function* () {
      // After a failure the loop waits a whole interval even when a full batch is waiting,
      // so that a dead collector gets one attempt per interval rather than one per batch.
      if (lastExportFailed) yield* Effect.sleep(options.intervalMs)
      else if (queue.size < queue.batchSize) yield* waitForBatch
      // A batch taken from the queue is sent whole, even while the scope closes.
      yield* Effect.uninterruptible(exportBatch)
      yield* logWarnings(false)
    })

    const exportQueued = Effect.gen(function* () {
      while (queue.size > 0) yield* exportBatch
    })

    const flushOnClose = exportQueued.pipe(
      Effect.timeout(options.timeoutMs),
      Effect.catchAll(() => {
        const lost = queue.size + sending
        stats.failedSpans += lost
        return Effect.logWarning(
          `Exporting the queued spans at shutdown took longer than ${options.timeoutMs} ms, so the rest were dropped.`
        ).pipe(Effect.annotateLogs({ ...annotations, "spans.lost": lost }))
      }),
      Effect.zipRight(logWarnings(true)),
      Effect.zipRight(
        Effect.suspend(() =>
          Effect.logInfo("OpenTelemetry export stopped").pipe(
            Effect.annotateLogs({
              ...annotations,
              "spans.exported": stats.exportedSpans,
              "spans.failed": stats.failedSpans,
              "spans.dropped": stats.droppedSpans
            })
          )
        )
      )
    )

    // Finalizers run in reverse order: the fiber is interrupted first, then the queue is flushed.
    yield* Effect.addFinalizer(() => flushOnClose)
    yield* Effect.forkScoped(Effect.forever(step))
    return stats
  })
