import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { performance } from "node:perf_hooks"
import { SqliteReader } from "./SqliteReader.js"
import { UsageDatabase } from "./UsageDatabase.js"
import { UsageStore } from "./UsageStore.js"
import { makeUsageRecord } from "./UsageTesting.js"
import { workerSqliteReaderLayer } from "./workerSqliteReader.js"

const temporaryFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-reader-"))),
  (directory) => Effect.sync(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
).pipe(Effect.map((directory) => NodePath.join(directory, "usage.db")))

// Opens the usage database on a new file and a reader of its own on the same file.
const openWithReader = Effect.gen(function* () {
  const sqlitePath = yield* temporaryFile
  const context = yield* Layer.build(UsageDatabase.layer({ sqlitePath }))
  const reader = yield* SqliteReader.pipe(Effect.provide(yield* Layer.build(workerSqliteReaderLayer(sqlitePath))))
  return { context, reader }
})

// Counts to `limit` in a recursive CTE, which is CPU work without any table. 3 million steps took
// about 0.45 s on a 2-vCPU Xeon VM (Node 20).
const countTo = (limit: number) =>
  `WITH RECURSIVE steps(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM steps WHERE n < ${limit}) SELECT count(*) AS count FROM steps`

const elapsedMs = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, number], E, R> =>
  Effect.gen(function* () {
    const started = performance.now()
    const result = yield* effect
    return [result, performance.now() - started]
  })

describe("workerSqliteReader", () => {
  it.scopedLive("provided for a database file only", () =>
    Effect.gen(function* () {
      const onFile = yield* Layer.build(UsageDatabase.layer({ sqlitePath: yield* temporaryFile }))
      const inMemory = yield* Layer.build(UsageDatabase.layer({ sqlitePath: ":memory:" }))

      expect(Option.isSome(yield* Effect.serviceOption(SqliteReader).pipe(Effect.provide(onFile)))).toBe(true)
      expect(Option.isNone(yield* Effect.serviceOption(SqliteReader).pipe(Effect.provide(inMemory)))).toBe(true)
    }))

  it.scopedLive("reads what the store wrote", () =>
    Effect.gen(function* () {
      const { context, reader } = yield* openWithReader
      const store = yield* UsageStore.pipe(Effect.provide(context))
      yield* store.insertBatch([makeUsageRecord({ requestId: "written-1", totalMs: 321 })])

      const rows = yield* reader.all("SELECT request_id, total_ms FROM fluxen_usage WHERE total_ms > ?", [300])

      expect(rows).toEqual([{ request_id: "written-1", total_ms: 321 }])
    }))

  it.scopedLive("rejects writes", () =>
    Effect.gen(function* () {
      const { reader } = yield* openWithReader

      const result = yield* Effect.either(reader.all("DELETE FROM fluxen_usage RETURNING request_id", []))

      expect(Either.isLeft(result)).toBe(true)
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(SqlError)
      expect(error.message).toContain("attempt to write a readonly database")
    }))

  it.scopedLive("reads again after a failed statement", () =>
    Effect.gen(function* () {
      const { reader } = yield* openWithReader

      const failed = yield* Effect.either(reader.all("SELECT * FROM no_such_table", []))
      const rows = yield* reader.all("SELECT 1 AS one", [])

      expect(Either.getLeft(failed).pipe(Option.map((error) => error.message), Option.getOrUndefined)).toContain("no such table: no_such_table")
      expect(rows).toEqual([{ one: 1 }])
    }))

  it.scopedLive("timed-out read does not delay the next", () =>
    Effect.gen(function* () {
      const { reader } = yield* openWithReader
      const [, slowMs] = yield* elapsedMs(reader.all(countTo(3_000_000), []))

      const timedOut = yield* Effect.either(Effect.timeout(reader.all(countTo(30_000_000), []), Duration.millis(50)))
      const [rows, nextMs] = yield* elapsedMs(reader.all("SELECT 1 AS one", []))

      expect(Either.isLeft(timedOut)).toBe(true)
      expect(rows).toEqual([{ one: 1 }])
      // The abandoned read runs about ten times as long as the measured one.
      expect(nextMs).toBeLessThan(slowMs * 2)
    }), { timeout: 60_000 })

  // SQLite deletes the WAL file when its last connection to the database closes.
  it.scopedLive("closes its connection with the scope", () =>
    Effect.gen(function* () {
      const sqlitePath = yield* temporaryFile

      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(UsageDatabase.layer({ sqlitePath }))
          const store = yield* UsageStore.pipe(Effect.provide(context))
          yield* store.insertBatch([makeUsageRecord()])
          const records = yield* store.list({ from: new Date(0), to: new Date("2100-01-01"), limit: 10 })
          expect(records.length).toBe(1)
          expect(NodeFs.existsSync(`${sqlitePath}-wal`)).toBe(true)
        })
      )

      expect(NodeFs.existsSync(`${sqlitePath}-wal`)).toBe(false)
    }))

  it.scopedLive("store read fails at its timeout", () =>
    Effect.gen(function* () {
      const sqlitePath = yield* temporaryFile
      const context = yield* Layer.build(UsageDatabase.layer({ sqlitePath, queryTimeout: Duration.millis(1) }))
      const store = yield* UsageStore.pipe(Effect.provide(context))
      yield* store.insertBatch([makeUsageRecord()])

      const result = yield* Effect.either(store.latencyByDay({ from: new Date(0), to: new Date("2100-01-01") }))

      expect(Either.getLeft(result).pipe(Option.map((error) => error.message), Option.getOrUndefined)).toContain("Timed out after 1ms")
    }))
})
