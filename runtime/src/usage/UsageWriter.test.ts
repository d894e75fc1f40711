import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import { lostRecordsExitStatus } from "./lostRecordsExitStatus.js"
import { UsageStore } from "./UsageStore.js"
import {
  captureLogs,
  clearUsage,
  countUsage,
  layerUsageTestDatabase,
  makeUsageRecord,
  usageTestDatabases,
  waitUntil
} from "./UsageTesting.js"
import { UsageWriter, type UsageWriterOptions } from "./UsageWriter.js"

const listRange = { from: new Date("2025-01-01T00:00:00Z"), to: new Date("2026-01-01T00:00:00Z"), limit: 1000 }

// Short delays keep the retry tests fast, because the writer's defaults are in seconds.
const fastRetries: UsageWriterOptions = { retryDelayMs: 10, maxRetryDelayMs: 50 }

/** Builds a writer on `store` in the current scope. */
const buildWriter = (options: UsageWriterOptions, store: UsageStore["Type"]) =>
  Layer.build(UsageWriter.layer(options).pipe(Layer.provide(Layer.succeed(UsageStore, store)))).pipe(
    Effect.map((context) => Context.get(context, UsageWriter))
  )

/** Store whose `insertBatch` fails with a SqlError while `failures` is above 0, counting down per call. */
const failingFirst = (store: UsageStore["Type"], failures: number): UsageStore["Type"] => {
  let remaining = failures
  return {
    ...store,
    insertBatch: (records) =>
      Effect.suspend(() => {
        if (remaining > 0) {
          remaining--
          return Effect.fail(new SqlError({ message: "injected insert failure" }))
        }
        return store.insertBatch(records)
      })
  }
}

for (const database of usageTestDatabases) {
  layer(layerUsageTestDatabase(database), { timeout: "30 seconds", excludeTestServices: true })(
    `UsageWriter on ${database.name}`,
    (it) => {
      it.scoped("flushes on the interval", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          yield* clearUsage
          const writer = yield* buildWriter({ flushIntervalMs: 100, batchSize: 1000 }, store)

          writer.record(makeUsageRecord())
          writer.record(makeUsageRecord())
          writer.record(makeUsageRecord())
          const before = yield* writer.stats

          expect(before.queued).toBe(3)
          yield* waitUntil("3 records are stored", Effect.map(countUsage, (count) => count === 3))
          const after = yield* writer.stats
          expect(after.written).toBe(3)
          expect(after.queued).toBe(0)
        }))

      it.scoped("flushes when a batch fills", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          yield* clearUsage
          const writer = yield* buildWriter({ flushIntervalMs: 60_000, batchSize: 5 }, store)

          for (let index = 0; index < 4; index++) {
            writer.record(makeUsageRecord())
          }
          yield* Effect.sleep("200 millis")
          expect(yield* countUsage).toBe(0)

          writer.record(makeUsageRecord())
          yield* waitUntil("5 records are stored", Effect.map(countUsage, (count) => count === 5))
        }))

      it.scoped("writes queued records on scope close", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          yield* clearUsage
          const scope = yield* Scope.make()
          const writer = yield* buildWriter({ flushIntervalMs: 60_000, batchSize: 1000 }, store).pipe(
            Scope.extend(scope)
          )
          for (let index = 0; index < 7; index++) {
            writer.record(makeUsageRecord())
          }

          yield* Scope.close(scope, Exit.void)

          expect(yield* countUsage).toBe(7)
          const stats = yield* writer.stats
          expect(stats.written).toBe(7)
          expect(stats.queued).toBe(0)
          writer.record(makeUsageRecord())
          const afterClose = yield* writer.stats
          expect(afterClose.unrecordedRequests).toBe(1)
          expect(afterClose.dropped).toBe(0)
        }))

      it.scoped("writes records queued during the last flush", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          yield* clearUsage
          const scope = yield* Scope.make()
          let writer: UsageWriter["Type"] | undefined
          let insertCalls = 0
          // Two requests end while the first insert runs, and that insert fails.
          const storeWithLateRequests: UsageStore["Type"] = {
            ...store,
            insertBatch: (records) =>
              Effect.suspend(() => {
                insertCalls++
                if (insertCalls > 1) {
                  return store.insertBatch(records)
                }
                writer?.record(makeUsageRecord({ requestId: "during-insert-1" }))
                writer?.record(makeUsageRecord({ requestId: "during-insert-2" }))
                return Effect.fail(new SqlError({ message: "injected insert failure" }))
              })
          }
          // Another request ends just after a flush found the queue empty. The writer logs its
          // recovery from the failed insert at that moment, so this logger records that request then.
          const endRequestOnRecovery = Logger.make(({ message }) => {
            const text = Array.isArray(message) ? String(message[0]) : String(message)
            if (text.startsWith("Usage inserts succeeded again")) {
              writer?.record(makeUsageRecord({ requestId: "after-empty-queue" }))
            }
          })

          // The shutdown runs with the loggers that the writer was built with.
          writer = yield* buildWriter({ ...fastRetries, flushIntervalMs: 60_000 }, storeWithLateRequests).pipe(
            Scope.extend(scope),
            Effect.provide(Logger.add(endRequestOnRecovery))
          )
          writer.record(makeUsageRecord({ requestId: "before-shutdown" }))
          yield* Scope.close(scope, Exit.void)

          const stored = yield* store.list(listRange)
          expect(stored.map((usage) => usage.requestId).sort()).toEqual([
            "after-empty-queue",
            "before-shutdown",
            "during-insert-1",
            "during-insert-2"
          ])
          const stats = yield* writer.stats
          expect(stats.written).toBe(4)
          expect(stats.queued).toBe(0)
          expect(stats.dropped).toBe(0)
        }))

      it.scoped("retries failed inserts until they succeed", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          yield* clearUsage

          yield* Effect.gen(function* () {
            const writer = yield* buildWriter({ ...fastRetries, flushIntervalMs: 50 }, failingFirst(store, 3))
            for (let index = 0; index < 4; index++) {
              writer.record(makeUsageRecord())
            }

            yield* waitUntil("4 records are stored", Effect.map(countUsage, (count) => count === 4))

            const stats = yield* writer.stats
            expect(stats.failedFlushes).toBe(3)
            expect(stats.written).toBe(4)
            expect(stats.dropped).toBe(0)
          }).pipe(Effect.provide(logLayer))

          const errors = logs.filter((log) => log.level === "ERROR")
          expect(errors).toHaveLength(3)
          expect(errors.map((log) => log.message)).toEqual([
            expect.stringMatching(/^Inserting 4 usage records failed on attempt 1, so the writer keeps them and retries in \d+ ms$/),
            expect.stringMatching(/ on attempt 2, .* retries in \d+ ms$/),
            expect.stringMatching(/ on attempt 3, .* retries in \d+ ms$/)
          ])
          expect(errors[0]!.annotations["error"]).toBe("injected insert failure")
          // One line per attempt: the logged error carries no stack trace.
          expect(errors.every((log) => log.cause === "")).toBe(true)
          // Each delay doubles from retryDelayMs, up to maxRetryDelayMs, times a factor from 0.8 to 1.2.
          const delays = errors.map((log) => Number(/retries in (\d+) ms/.exec(log.message)![1]))
          expect(delays[0]).toBeGreaterThanOrEqual(8)
          expect(delays[0]).toBeLessThanOrEqual(12)
          expect(delays[1]).toBeGreaterThanOrEqual(16)
          expect(delays[1]).toBeLessThanOrEqual(24)
          expect(delays[2]).toBeGreaterThanOrEqual(32)
          expect(delays[2]).toBeLessThanOrEqual(48)
        }))

      it.scoped("recovers after the table comes back", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          yield* clearUsage

          let renamed = true
          yield* sql`ALTER TABLE fluxen_usage RENAME TO fluxen_usage_offline`
          // Restores the table even when an assertion below fails, so later tests still find it.
          yield* Effect.addFinalizer(() =>
            renamed ? sql`ALTER TABLE fluxen_usage_offline RENAME TO fluxen_usage`.pipe(Effect.orDie) : Effect.void
          )

          yield* Effect.gen(function* () {
            const writer = yield* buildWriter({ ...fastRetries, flushIntervalMs: 50 }, store)
            // The store inserts 8 rows with one 8-row INSERT, a SQL text that no earlier test uses.
            // So on SQLite that statement is first prepared while the table is missing, and the
            // client caches the failed prepare.
            for (let index = 0; index < 8; index++) {
              writer.record(makeUsageRecord())
            }
            yield* waitUntil(
              "two inserts have failed",
              Effect.map(writer.stats, (stats) => stats.failedFlushes >= 2)
            )
            expect((yield* writer.stats).queued).toBe(8)

            yield* sql`ALTER TABLE fluxen_usage_offline RENAME TO fluxen_usage`
            renamed = false

            yield* waitUntil("8 records are stored", Effect.map(countUsage, (count) => count === 8), "10 seconds")
            const stats = yield* writer.stats
            expect(stats.written).toBe(8)
            expect(stats.queued).toBe(0)
          }).pipe(Effect.provide(logLayer))

          const errors = logs.filter((log) => log.level === "ERROR")
          expect(errors.length).toBeGreaterThanOrEqual(2)
          expect(errors[0]!.message).toContain("Inserting 8 usage records failed on attempt 1")
          expect(errors[0]!.annotations["error"]).toMatch(/no such table: fluxen_usage|relation "fluxen_usage" does not exist/)
        }))

      it.scoped("logs the recovery once", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          const recoveryLines = () => logs.filter((log) => log.message.startsWith("Usage inserts succeeded again"))
          yield* clearUsage

          let renamed = true
          yield* sql`ALTER TABLE fluxen_usage RENAME TO fluxen_usage_offline`
          yield* Effect.addFinalizer(() =>
            renamed ? sql`ALTER TABLE fluxen_usage_offline RENAME TO fluxen_usage`.pipe(Effect.orDie) : Effect.void
          )

          const { failedFlushes, shortestOutageMs, longestOutageMs } = yield* Effect.gen(function* () {
            const writer = yield* buildWriter({ ...fastRetries, flushIntervalMs: 50, batchSize: 5 }, store)
            const recordedAt = Date.now()
            for (let index = 0; index < 8; index++) {
              writer.record(makeUsageRecord())
            }
            yield* waitUntil("two inserts have failed", Effect.map(writer.stats, (stats) => stats.failedFlushes >= 2))
            const failingSeenAt = Date.now()
            yield* Effect.sleep("100 millis")

            // Taken before the rename, because an insert may succeed before the rename returns.
            const restoringAt = Date.now()
            yield* sql`ALTER TABLE fluxen_usage_offline RENAME TO fluxen_usage`
            renamed = false
            yield* waitUntil("the recovery is logged", Effect.sync(() => recoveryLines().length > 0), "10 seconds")
            const loggedAt = Date.now()
            const failedFlushes = (yield* writer.stats).failedFlushes

            // Records written after the recovery are on time, so they log nothing.
            writer.record(makeUsageRecord())
            yield* writer.flush()
            return { failedFlushes, shortestOutageMs: restoringAt - failingSeenAt, longestOutageMs: loggedAt - recordedAt }
          }).pipe(Effect.provide(logLayer))

          expect(yield* countUsage).toBe(9)
          const lines = recoveryLines()
          expect(lines).toHaveLength(1)
          const line = lines[0]!
          expect(line.level).toBe("INFO")
          expect(line.message).toMatch(
            new RegExp(`^Usage inserts succeeded again after ${failedFlushes} failed attempts over .+, and the writer caught up by writing 8 records late$`)
          )
          expect(line.annotations["usage.failed_attempts"]).toBe(failedFlushes)
          expect(line.annotations["usage.late_records"]).toBe(8)
          expect(line.annotations["usage.outage_ms"]).toBeGreaterThanOrEqual(shortestOutageMs)
          expect(line.annotations["usage.outage_ms"]).toBeLessThanOrEqual(longestOutageMs)
          expect(logs.filter((log) => log.level === "ERROR")).toHaveLength(failedFlushes)
        }))

      it.scoped("drops the oldest records beyond maxQueue", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          yield* clearUsage

          yield* Effect.gen(function* () {
            const writer = yield* buildWriter({ flushIntervalMs: 60_000, batchSize: 5, maxQueue: 10 }, store)
            for (let index = 1; index <= 25; index++) {
              writer.record(makeUsageRecord({ requestId: `r${String(index).padStart(2, "0")}` }))
            }

            const queuedStats = yield* writer.stats
            expect(queuedStats.dropped).toBe(15)
            expect(queuedStats.queued).toBe(10)

            yield* writer.flush()
          }).pipe(Effect.provide(logLayer))

          const stored = yield* store.list(listRange)
          expect(stored.map((record) => record.requestId).sort()).toEqual([
            "r16",
            "r17",
            "r18",
            "r19",
            "r20",
            "r21",
            "r22",
            "r23",
            "r24",
            "r25"
          ])
          const warnings = logs.filter((log) => log.level === "WARN" && log.message.includes("dropped the 15 oldest"))
          expect(warnings).toHaveLength(1)
        }))

      it.scoped("gives up at shutdown after the timeout", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          yield* clearUsage
          const scope = yield* Scope.make()

          const writer = yield* buildWriter(
            { ...fastRetries, flushIntervalMs: 60_000, shutdownTimeoutMs: 200 },
            failingFirst(store, Number.POSITIVE_INFINITY)
          ).pipe(Scope.extend(scope), Effect.provide(logLayer))
          const records = [makeUsageRecord(), makeUsageRecord()]
          for (const usage of records) writer.record(usage)
          yield* Scope.close(scope, Exit.void).pipe(Effect.provide(logLayer))

          const stats = yield* writer.stats
          expect(stats.dropped).toBe(2)
          expect(stats.queued).toBe(0)
          expect(stats.failedFlushes).toBeGreaterThan(0)
          expect(logs.some((log) => log.level === "ERROR" && log.message.includes("2 usage records were not written"))).toBe(true)
          // Each lost record is logged whole, so that it can be inserted later.
          const unwritten = logs.filter((log) => log.message === "Usage record not written")
          const loggedIds = unwritten.map((log) => (JSON.parse(String(log.annotations["usage.record"])) as { requestId: string }).requestId)
          expect(loggedIds).toEqual(records.map((usage) => usage.requestId))
        }))

      it.scoped("drops records queued during a timed-out shutdown", () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          const { layer: logLayer, logs } = captureLogs()
          const scope = yield* Scope.make()
          let writer: UsageWriter["Type"] | undefined
          let insertCalls = 0
          // Every insert fails, and a request ends while the first one runs.
          const failingStore: UsageStore["Type"] = {
            ...store,
            insertBatch: () =>
              Effect.suspend(() => {
                insertCalls++
                if (insertCalls === 1) {
                  writer?.record(makeUsageRecord({ requestId: "during-insert" }))
                }
                return Effect.fail(new SqlError({ message: "injected insert failure" }))
              })
          }

          writer = yield* buildWriter({ ...fastRetries, flushIntervalMs: 60_000, shutdownTimeoutMs: 200 }, failingStore).pipe(
            Scope.extend(scope),
            Effect.provide(logLayer)
          )
          writer.record(makeUsageRecord({ requestId: "before-shutdown" }))
          yield* Scope.close(scope, Exit.void)

          const stats = yield* writer.stats
          expect(stats.dropped).toBe(2)
          expect(stats.queued).toBe(0)
          expect(stats.written).toBe(0)
          const stopped = logs.find((log) => log.message === "Usage writer stopped")
          expect(stopped?.annotations["usage.dropped"]).toBe(2)
          const unwritten = logs.filter((log) => log.message === "Usage record not written")
          const loggedIds = unwritten.map((log) => (JSON.parse(String(log.annotations["usage.record"])) as { requestId: string }).requestId)
          expect(loggedIds).toEqual(["before-shutdown", "during-insert"])
        }))
    }
  )
}

describe("UsageWriter without a database", () => {
  const unusedStore: UsageStore["Type"] = {
    insertBatch: () => Effect.void,
    totals: () => Effect.die("totals is not used by the writer"),
    list: () => Effect.die("list is not used by the writer")
  }

  it.scoped("rejects maxQueue below batchSize", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(buildWriter({ batchSize: 10, maxQueue: 5 }, unusedStore))

      expect(Exit.isFailure(exit)).toBe(true)
      const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
      expect(Cause.isDie(cause)).toBe(true)
      expect(Cause.pretty(cause)).toContain("maxQueue (5) must be at least batchSize (10)")
    }))

  it.scoped("counts records after close as lost", () =>
    Effect.gen(function* () {
      const { layer: logLayer, logs } = captureLogs()
      const inserted: Array<string> = []
      const store: UsageStore["Type"] = {
        ...unusedStore,
        insertBatch: (records) =>
          Effect.sync(() => {
            inserted.push(...records.map((record) => record.requestId))
          })
      }
      const scope = yield* Scope.make()
      const writer = yield* buildWriter({ flushIntervalMs: 60_000 }, store).pipe(Scope.extend(scope))
      writer.record(makeUsageRecord({ requestId: "before-close" }))
      yield* Scope.close(scope, Exit.void)

      // Requests still running after the last flush end now.
      writer.record(makeUsageRecord({ requestId: "after-close-1" }))
      writer.record(makeUsageRecord({ requestId: "after-close-2" }))
      const stats = yield* writer.stats
      const status = yield* lostRecordsExitStatus(stats).pipe(Effect.provide(logLayer))

      expect(inserted).toEqual(["before-close"])
      expect(stats.unrecordedRequests).toBe(2)
      expect(stats.dropped).toBe(0)
      expect(stats.queued).toBe(0)
      expect(status).toBe(1)
      const lostLine = logs.find((log) => log.message.startsWith("Usage records were lost"))
      expect(lostLine?.level).toBe("ERROR")
      expect(lostLine?.annotations["requests.unrecorded"]).toBe(2)
      expect(lostLine?.annotations["usage.dropped"]).toBe(0)
    }))

  it.live("drops a batch whose insert dies and keeps writing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const inserted: Array<string> = []
        const { layer: logLayer, logs } = captureLogs()
        const store: UsageStore["Type"] = {
          ...unusedStore,
          insertBatch: (records) =>
            records.some((record) => record.requestId === "poison")
              ? Effect.die(new Error("encoder bug"))
              : Effect.sync(() => {
                  inserted.push(...records.map((record) => record.requestId))
                })
        }

        yield* Effect.gen(function* () {
          const writer = yield* buildWriter({ flushIntervalMs: 60_000, batchSize: 2 }, store)
          writer.record(makeUsageRecord({ requestId: "poison" }))
          writer.record(makeUsageRecord({ requestId: "lost-with-poison" }))
          writer.record(makeUsageRecord({ requestId: "after" }))

          yield* writer.flush()

          const stats = yield* writer.stats
          expect(stats.dropped).toBe(2)
          expect(stats.written).toBe(1)
        }).pipe(Effect.provide(logLayer))

        expect(inserted).toEqual(["after"])
        expect(logs.some((log) => log.level === "ERROR" && log.cause.includes("encoder bug"))).toBe(true)
      })
    ))
})
