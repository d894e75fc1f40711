import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { describeCause } from "./describeCause.js"
import type { UsageRecord } from "./UsageRecord.js"
import { UsageStore } from "./UsageStore.js"

/** Tuning of the background usage writer. Durations are in milliseconds. */
export interface UsageWriterOptions {
  /** Maximum time a record waits in the queue before a flush starts. Default 1000. */
  readonly flushIntervalMs?: number | undefined
  /** Records per insert. This many queued records start a flush before the interval ends. Default 500. */
  readonly batchSize?: number | undefined
  /**
   * Maximum records waiting in the queue, at least `batchSize`. When it is full, each new record
   * drops the oldest one. A batch being inserted is kept outside the queue, so memory contains at
   * most `maxQueue + batchSize` records. Default 100,000.
   */
  readonly maxQueue?: number | undefined
  /** Delay before the first retry of a failed insert, doubled per failure up to `maxRetryDelayMs`. Default 500. */
  readonly retryDelayMs?: number | undefined
  /** Maximum delay between retries of a failed insert. Default 30,000. */
  readonly maxRetryDelayMs?: number | undefined
  /**
   * Time one insert attempt may take. An attempt still waiting then, such as one on a database
   * connection that stopped responding, counts as failed and is retried. Default 30,000.
   */
  readonly insertTimeoutMs?: number | undefined
  /** Time that shutdown spends writing the remaining records before giving up on them. Default 10,000. */
  readonly shutdownTimeoutMs?: number | undefined
  /** Minimum time between two warnings about dropped records. Default 10,000. */
  readonly dropWarningIntervalMs?: number | undefined
}

/** Counters of one writer since it started. */
export interface UsageWriterStats {
  /** Records waiting to be written, including a batch whose insert is in progress or being retried. */
  readonly queued: number
  /** Records handed to `UsageStore.insertBatch` in a successful call, including any it skipped as invalid or duplicate. */
  readonly written: number
  /** Records lost: dropped from a full queue, dropped by an insert that died, or left over when shutdown gave up. */
  readonly dropped: number
  /** Requests whose record arrived after the writer's last flush at shutdown, so it was not written. */
  readonly unrecordedRequests: number
  /** Failed insert attempts, counting each retry of the same batch again. */
  readonly failedFlushes: number
}

interface UsageWriterSettings {
  readonly flushIntervalMs: number
  readonly batchSize: number
  readonly maxQueue: number
  readonly retryDelayMs: number
  readonly maxRetryDelayMs: number
  readonly insertTimeoutMs: number
  readonly shutdownTimeoutMs: number
  readonly dropWarningIntervalMs: number
}

// ============================================================================
// Record queue
// ============================================================================

/** Fixed-capacity ring buffer of records that overwrites the oldest record when full. */
/**
 * Maximum unwritten records logged whole at shutdown. Logging is bounded so that a queue of
 * 100,000 records cannot hold shutdown past a supervisor's kill deadline.
 */
const MAX_LOGGED_UNWRITTEN_RECORDS = 1_000

class RecordQueue {
  private readonly slots: Array<UsageRecord | undefined>
  private head = 0
  size = 0

  constructor(readonly capacity: number) {
    this.slots = new Array<UsageRecord | undefined>(capacity).fill(undefined)
  }

  /** Appends a record and returns true when that overwrote the oldest one. */
  push(record: UsageRecord): boolean {
    if (this.size === this.capacity) {
      // When full, the next free slot is the oldest record's slot.
      this.slots[this.head] = record
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1
      return true
    }
    const tail = this.head + this.size
    this.slots[tail < this.capacity ? tail : tail - this.capacity] = record
    this.size++
    return false
  }

  /** Removes and returns up to `max` of the oldest records, oldest first. */
  take(max: number): Array<UsageRecord> {
    const count = Math.min(max, this.size)
    const records = new Array<UsageRecord>(count)
    for (let i = 0; i < count; i++) {
      records[i] = this.slots[this.head] as UsageRecord
      this.slots[this.head] = undefined
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1
    }
    this.size -= count
    return records
  }
}

/** An insert attempt that the database did not complete within `insertTimeoutMs`. */
class UsageInsertTimeoutError extends Data.TaggedError("UsageInsertTimeoutError")<{ readonly timeoutMs: number }> {
  override get message(): string {
    return `Timed out after ${this.timeoutMs} ms waiting for the database to complete the insert`
  }
}

/**
 * A run of failed inserts, from the first failed attempt until the writer has caught up. A
 * failure while catching up continues the same outage.
 */
interface Outage {
  failedAttempts: number
  /** When the first failed attempt started, in epoch milliseconds. */
  readonly startedAtMs: number
  /** When the first attempt after the last failure succeeded, in epoch milliseconds. */
  recoveredAtMs: number | undefined
  /** The writer's `written` count when the outage started. */
  readonly writtenBefore: number
}

// ============================================================================
// Options
// ============================================================================

const validateOptions = (options: UsageWriterOptions): Effect.Effect<UsageWriterSettings> => {
  const settings: UsageWriterSettings = {
    flushIntervalMs: options.flushIntervalMs ?? 1000,
    batchSize: options.batchSize ?? 500,
    maxQueue: options.maxQueue ?? 100_000,
    retryDelayMs: options.retryDelayMs ?? 500,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
    insertTimeoutMs: options.insertTimeoutMs ?? 30_000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
    dropWarningIntervalMs: options.dropWarningIntervalMs ?? 10_000
  }

  const problems: Array<string> = []
  const requirePositiveInteger = (name: keyof UsageWriterSettings) => {
    if (!Number.isInteger(settings[name]) || settings[name] <= 0) {
      problems.push(`${name} must be a positive integer, got ${settings[name]}`)
    }
  }
  const requireDuration = (name: keyof UsageWriterSettings, minimum: number) => {
    if (!Number.isFinite(settings[name]) || settings[name] < minimum) {
      problems.push(`${name} must be a number of milliseconds of at least ${minimum}, got ${settings[name]}`)
    }
  }
  requirePositiveInteger("batchSize")
  requirePositiveInteger("maxQueue")
  requireDuration("flushIntervalMs", 1)
  requireDuration("retryDelayMs", 1)
  requireDuration("maxRetryDelayMs", settings.retryDelayMs)
  requireDuration("insertTimeoutMs", 1)
  requireDuration("shutdownTimeoutMs", 0)
  requireDuration("dropWarningIntervalMs", 0)
  if (settings.maxQueue < settings.batchSize) {
    problems.push(`maxQueue (${settings.maxQueue}) must be at least batchSize (${settings.batchSize})`)
  }

  return problems.length === 0
    ? Effect.succeed(settings)
    : Effect.dieMessage(`Invalid UsageWriter options: ${problems.join("; ")}`)
}

// ============================================================================
// Writer
// ============================================================================

const make = (options: UsageWriterOptions) =>
  Effect.gen(function* () {
    const store = yield* UsageStore
    const settings = yield* validateOptions(options)
    const queue = new RecordQueue(settings.maxQueue)
    const wake = yield* Effect.makeLatch(false)
    const flushLock = yield* Effect.makeSemaphore(1)

    // Plain mutable state: `record` runs synchronously on the request path, and JavaScript runs
    // it and the flusher's synchronous steps one at a time.
    let inFlight: ReadonlyArray<UsageRecord> | undefined
    let wakeRequested = false
    let closed = false
    let written = 0
    let dropped = 0
    let unrecordedRequests = 0
    let failedFlushes = 0
    let droppedSinceWarning = 0
    let lastDropWarningAt = Number.NEGATIVE_INFINITY
    let outage: Outage | undefined

    const queuedCount = (): number => queue.size + (inFlight?.length ?? 0)

    const record = (usage: UsageRecord): void => {
      if (closed) {
        unrecordedRequests++
        return
      }
      if (queue.push(usage)) {
        dropped++
        droppedSinceWarning++
      }
      // Opens the latch once per wake-up, and the flusher clears the request when it wakes.
      if (!wakeRequested && queue.size >= settings.batchSize) {
        wakeRequested = true
        wake.unsafeOpen()
      }
    }

    const warnAboutDrops = (force: boolean) =>
      Effect.gen(function* () {
        if (droppedSinceWarning === 0) {
          return
        }
        const now = yield* Clock.currentTimeMillis
        if (!force && now - lastDropWarningAt < settings.dropWarningIntervalMs) {
          return
        }
        const count = droppedSinceWarning
        droppedSinceWarning = 0
        lastDropWarningAt = now
        yield* Effect.logWarning(
          `Usage writer dropped the ${count} oldest records because the queue was full (maxQueue ${settings.maxQueue}). The database is unavailable or slower than the request rate.`
        ).pipe(Effect.annotateLogs("usage.dropped_total", dropped))
      })

    // Exponential backoff: retryDelayMs doubled per failed attempt and capped at maxRetryDelayMs,
    // times a random factor from 0.8 to 1.2, so that instances that failed together spread out.
    const retryDelayMs = (attempt: number): Effect.Effect<number> =>
      Effect.map(Random.nextRange(0.8, 1.2), (factor) => {
        const delay = Math.min(settings.retryDelayMs * 2 ** (attempt - 1), settings.maxRetryDelayMs)
        return Math.round(delay * factor)
      })

    // `disconnect` lets the timeout return without waiting for the interrupted insert, because
    // a transaction on a PostgreSQL connection that stopped responding cannot end before the
    // server responds. NOTE: until then the abandoned attempt keeps its pool connection, and it
    // may still commit, which the retried batch's ON CONFLICT clause makes harmless.
    const insertWithTimeout = (batch: ReadonlyArray<UsageRecord>) =>
      store.insertBatch(batch).pipe(
        Effect.disconnect,
        Effect.timeoutFail({
          duration: Duration.millis(settings.insertTimeoutMs),
          onTimeout: () => new UsageInsertTimeoutError({ timeoutMs: settings.insertTimeoutMs })
        })
      )

    // Each failed attempt logs one line without a stack trace, because the error's message names
    // the cause. The backoff bounds how often the line repeats.
    // NOTE: a batch that the database rejects for a lasting reason that the store's validation
    // does not catch is retried until shutdown, while newer records queue behind it and the
    // oldest of them are dropped at maxQueue.
    const insertWithRetry = (batch: ReadonlyArray<UsageRecord>): Effect.Effect<void> =>
      Effect.gen(function* () {
        for (let attempt = 1; ; attempt++) {
          const startedAtMs = yield* Clock.currentTimeMillis
          const result = yield* Effect.either(insertWithTimeout(batch))
          if (Either.isRight(result)) {
            if (outage !== undefined && outage.recoveredAtMs === undefined) {
              outage.recoveredAtMs = yield* Clock.currentTimeMillis
            }
            return
          }

          failedFlushes++
          outage ??= { failedAttempts: 0, startedAtMs, recoveredAtMs: undefined, writtenBefore: written }
          outage.failedAttempts++
          outage.recoveredAtMs = undefined
          const delayMs = yield* retryDelayMs(attempt)
          yield* Effect.logError(
            `Inserting ${batch.length} usage records failed on attempt ${attempt}, so the writer keeps them and retries in ${delayMs} ms`
          ).pipe(Effect.annotateLogs({ error: describeCause(result.left, []), "usage.queued": queuedCount() }))
          yield* warnAboutDrops(false)
          yield* Effect.sleep(Duration.millis(delayMs))
        }
      })

    const writeBatch = (batch: ReadonlyArray<UsageRecord>) =>
      insertWithRetry(batch).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) {
              inFlight = undefined
              written += batch.length
            } else if (!Exit.isInterrupted(exit)) {
              // A defect (a bug, not a database state) would repeat on every retry.
              inFlight = undefined
              dropped += batch.length
            }
          })
        ),
        Effect.catchAllDefect((defect) =>
          Effect.logError(
            `Inserting ${batch.length} usage records failed with an unexpected error, so the writer dropped them`,
            Cause.die(defect)
          )
        )
      )

    // Logged once the queue is empty after an outage, so that the line counts every record written
    // from the first failure until then, not only the first batch that got through.
    const logRecovery = Effect.suspend(() => {
      if (outage?.recoveredAtMs === undefined) {
        return Effect.void
      }
      const outageMs = outage.recoveredAtMs - outage.startedAtMs
      const lateRecords = written - outage.writtenBefore
      const failedAttempts = outage.failedAttempts
      outage = undefined
      const attempts = failedAttempts === 1 ? "1 failed attempt" : `${failedAttempts} failed attempts`
      const records = lateRecords === 1 ? "1 record" : `${lateRecords} records`
      return Effect.logInfo(
        `Usage inserts succeeded again after ${attempts} over ${Duration.format(Duration.millis(outageMs))}, ` +
          `and the writer caught up by writing ${records} late`
      ).pipe(
        Effect.annotateLogs({ "usage.failed_attempts": failedAttempts, "usage.outage_ms": outageMs, "usage.late_records": lateRecords })
      )
    })

    // Writes until the queue is empty. An interrupted batch stays in `inFlight` and goes first
    // next time, and the store's ON CONFLICT clause ignores rows that an earlier attempt stored.
    const drain = Effect.gen(function* () {
      yield* warnAboutDrops(false)
      while (true) {
        const batch = inFlight ?? queue.take(settings.batchSize)
        if (batch.length === 0) {
          yield* logRecovery
          return
        }
        inFlight = batch
        yield* writeBatch(batch)
      }
    })

    const flush = (): Effect.Effect<void> => flushLock.withPermits(1)(drain)

    const flushLoop = Effect.gen(function* () {
      while (true) {
        yield* wake.await.pipe(Effect.timeoutOption(Duration.millis(settings.flushIntervalMs)))
        wakeRequested = false
        wake.unsafeClose()
        yield* flush()
      }
    })

    // Requests that end during shutdown queue records while the last flush runs, even after it
    // found the queue empty, because the runtime may switch fibers between any two steps. So the
    // flush repeats until it leaves the queue empty, and the writer closes in that synchronous
    // step, before another record can arrive.
    const flushAndClose = Effect.gen(function* () {
      while (true) {
        yield* flush()
        if (queuedCount() === 0) {
          closed = true
          return
        }
      }
    })

    const shutdown = (loop: Fiber.RuntimeFiber<never>) =>
      Effect.gen(function* () {
        // Not awaited, because interrupting an insert on a PostgreSQL connection that stopped
        // responding does not end while the connection hangs.
        yield* Fiber.interruptFork(loop)

        // Finalizers run uninterruptibly, and the timeout can only stop a flush that may be interrupted.
        // `disconnect` lets the timeout return without waiting for that interruption to end, for the
        // same reason. It comes before `interruptible`, so that the wait for it is interruptible too.
        const finished = yield* flushAndClose.pipe(
          Effect.disconnect,
          Effect.interruptible,
          Effect.timeoutOption(Duration.millis(settings.shutdownTimeoutMs))
        )
        // Set here too for a flush that timed out, in the synchronous step that takes the records still queued.
        closed = true
        if (Option.isNone(finished)) {
          const lost = [...(inFlight ?? []), ...queue.take(queue.size)]
          dropped += lost.length
          inFlight = undefined
          const logged = lost.slice(-MAX_LOGGED_UNWRITTEN_RECORDS)
          yield* Effect.logError(
            `Usage writer gave up at shutdown after ${settings.shutdownTimeoutMs} ms, and ${lost.length} usage records were not written. ` +
              `The newest ${logged.length} follow as "Usage record not written" lines, from which they can be inserted later.`
          )
          for (const unwritten of logged) {
            yield* Effect.logError("Usage record not written").pipe(Effect.annotateLogs("usage.record", JSON.stringify(unwritten)))
          }
        }

        yield* warnAboutDrops(true)
        yield* Effect.logInfo("Usage writer stopped").pipe(
          Effect.annotateLogs({ "usage.written": written, "usage.dropped": dropped, "usage.failed_flushes": failedFlushes })
        )
      })

    // acquireRelease runs its acquire step uninterruptibly and a forked fiber inherits that, so
    // without `interruptible` neither the wait timeout nor the shutdown could interrupt the loop.
    yield* Effect.acquireRelease(Effect.forkDaemon(Effect.interruptible(flushLoop)), shutdown)
    yield* Effect.logInfo("Usage writer started").pipe(
      Effect.annotateLogs({
        "usage.flush_interval_ms": settings.flushIntervalMs,
        "usage.batch_size": settings.batchSize,
        "usage.max_queue": settings.maxQueue,
        "usage.insert_timeout_ms": settings.insertTimeoutMs
      })
    )

    return UsageWriter.of({
      record,
      flush,
      stats: Effect.sync(() => ({ queued: queuedCount(), written, dropped, unrecordedRequests, failedFlushes }))
    })
  })

/**
 * Buffers usage records in memory and writes them in batches from a background fiber, so the
 * request path never waits for the database.
 */
export class UsageWriter extends Context.Tag("@fluxen/runtime/UsageWriter")<
  UsageWriter,
  {
    /**
     * Queues one record. Synchronous and cheap enough for the request path: it never waits and
     * never fails. When the queue is full it drops the oldest record, which counts in
     * `stats.dropped`. After the writer's last flush it drops the new record, which counts in
     * `stats.unrecordedRequests`.
     */
    readonly record: (record: UsageRecord) => void
    /**
     * Writes every queued record, retrying failed inserts with backoff. It completes only once
     * the queue is empty, so bound it with a timeout while the database may be down.
     */
    readonly flush: () => Effect.Effect<void>
    readonly stats: Effect.Effect<UsageWriterStats>
  }
>() {
  /**
   * Writer whose background fiber lives in the layer's scope. Closing the scope writes the
   * remaining records (for up to `shutdownTimeoutMs`) before it completes.
   */
  static readonly layer = (options: UsageWriterOptions = {}): Layer.Layer<UsageWriter, never, UsageStore> =>
    Layer.scoped(UsageWriter, make(options))
}
