import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { performance } from "node:perf_hooks"
import { UsageDatabase } from "./UsageDatabase.js"
import { UsageStore } from "./UsageStore.js"

// The parts of better-sqlite3's API used to fill the file (the package ships no type declarations).
interface Database {
  prepare(sql: string): { run(...params: ReadonlyArray<unknown>): unknown }
  transaction(body: () => void): () => void
  close(): void
}
const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => Database

// Enough successful records that latencyByDay over all of them took about 600 ms on a 2-vCPU
// Xeon VM (Node 20). The test asserts a ratio, not a duration, so slower machines pass too.
const recordCount = 300_000
const rowsPerInsert = 500
const firstDay = Date.parse("2025-01-01T00:00:00Z")
const dayCount = 30
const range = { from: new Date(firstDay), to: new Date(firstDay + dayCount * 86_400_000) }

const temporaryFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-event-loop-"))),
  (directory) => Effect.sync(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
).pipe(Effect.map((directory) => NodePath.join(directory, "usage.db")))

// Writes the records with one multi-row INSERT per batch on a connection of its own, which is
// much faster than `insertBatch` and fills only the NOT NULL columns.
const fillUsage = (filename: string): void => {
  const database = new Sqlite(filename)
  const placeholders = Array.from({ length: rowsPerInsert }, () => "(?, ?, 'gpt-4o', 'chat', 'ok', 200, 0, 0, ?)").join(", ")
  const insert = database.prepare(
    `INSERT INTO fluxen_usage (request_id, created_at, requested_model, endpoint, status, http_status, stream, usage_estimated, total_ms) VALUES ${placeholders}`
  )
  const spacingMs = (dayCount * 86_400_000) / recordCount
  database.transaction(() => {
    for (let first = 0; first < recordCount; first += rowsPerInsert) {
      const params: Array<unknown> = []
      for (let index = first; index < first + rowsPerInsert; index++) {
        // Scrambled latencies, so the sort has real work to do.
        params.push(`req-${index}`, Math.floor(firstDay + index * spacingMs), (index * 7919) % 30_000)
      }
      insert.run(...params)
    }
  })()
  database.close()
}

interface EventLoopGaps {
  readonly elapsedMs: number
  /** Maximum time between two runs of a 10 ms interval timer on the main thread. */
  readonly maxGapMs: number
}

const measureEventLoop = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, EventLoopGaps], E, R> =>
  Effect.gen(function* () {
    let maxGapMs = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      maxGapMs = Math.max(maxGapMs, now - last)
      last = now
    }, 10)

    const started = performance.now()
    const result = yield* Effect.ensuring(effect, Effect.sync(() => clearInterval(timer)))
    const elapsedMs = performance.now() - started

    // The timer's last run may lie before the end of the read.
    maxGapMs = Math.max(maxGapMs, performance.now() - last)
    return [result, { elapsedMs, maxGapMs }]
  })

describe("UsageStore reads on a SQLite file", () => {
  it.scopedLive(
    "long reads leave the event loop free",
    () =>
      Effect.gen(function* () {
        const sqlitePath = yield* temporaryFile
        const context = yield* Layer.build(UsageDatabase.layer({ sqlitePath, queryTimeout: "2 minutes" }))
        const store = yield* UsageStore.pipe(Effect.provide(context))
        fillUsage(sqlitePath)
        // A first read opens whatever the store reads through, outside the measurement.
        yield* store.list({ ...range, limit: 1 })

        const [days, gaps] = yield* measureEventLoop(store.latencyByDay(range))
        console.log(`latencyByDay over ${recordCount} records: ${gaps.elapsedMs.toFixed(0)} ms, max event loop gap ${gaps.maxGapMs.toFixed(0)} ms`)

        expect(days.length).toBe(dayCount)
        expect(days.reduce((sum, day) => sum + day.requests, 0)).toBe(recordCount)
        // Below 5 timer periods, the ratio check could not tell a free event loop from a blocked one.
        expect(gaps.elapsedMs).toBeGreaterThan(50)
        expect(gaps.maxGapMs).toBeLessThan(gaps.elapsedMs / 4)

        const [totals, totalsGaps] = yield* measureEventLoop(store.totals({ ...range, groupBy: "day" }))
        console.log(`totals over ${recordCount} records: ${totalsGaps.elapsedMs.toFixed(0)} ms, max event loop gap ${totalsGaps.maxGapMs.toFixed(0)} ms`)

        expect(totals.reduce((sum, total) => sum + total.requests, 0)).toBe(recordCount)
        expect(totalsGaps.elapsedMs).toBeGreaterThan(50)
        expect(totalsGaps.maxGapMs).toBeLessThan(totalsGaps.elapsedMs / 4)
      }),
    { timeout: 120_000 }
  )
})
