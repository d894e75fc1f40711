import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { SqliteBatchInserter } from "./SqliteBatchInserter.js"
import { UsageDatabase } from "./UsageDatabase.js"
import { UsageStore } from "./UsageStore.js"
import { countUsage, makeUsageRecord } from "./UsageTesting.js"

const temporaryFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-inserter-"))),
  (directory) => Effect.sync(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
).pipe(Effect.map((directory) => NodePath.join(directory, "usage.db")))

const openDatabase = (sqlitePath: string) => Layer.build(UsageDatabase.layer({ sqlitePath }))

describe("SqliteBatchInserter", () => {
  it.scopedLive("provided for a database file", () =>
    Effect.gen(function* () {
      const context = yield* openDatabase(yield* temporaryFile)
      const inserter = yield* Effect.serviceOption(SqliteBatchInserter).pipe(Effect.provide(context))
      expect(Option.isSome(inserter)).toBe(true)
    }))

  it.scopedLive("absent for an in-memory database", () =>
    Effect.gen(function* () {
      const context = yield* openDatabase(":memory:")
      const inserter = yield* Effect.serviceOption(SqliteBatchInserter).pipe(Effect.provide(context))
      expect(Option.isNone(inserter)).toBe(true)

      const store = yield* UsageStore.pipe(Effect.provide(context))
      yield* store.insertBatch([makeUsageRecord({ requestId: "memory-1" })])
      expect(yield* countUsage.pipe(Effect.provide(context))).toBe(1)
    }))

  it.scopedLive("locked database takes the SqlClient", () =>
    Effect.gen(function* () {
      const context = yield* openDatabase(yield* temporaryFile)
      const sql = yield* SqlClient.SqlClient.pipe(Effect.provide(context))
      const store = yield* UsageStore.pipe(Effect.provide(context))
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()

      // A SqlClient transaction that holds the write lock across an await, as a migration does.
      const holder = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`CREATE TABLE lock_holder (id INTEGER)`
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
          })
        )
        .pipe(Effect.fork)
      yield* Deferred.await(locked)

      const insert = yield* store.insertBatch([makeUsageRecord({ requestId: "locked-1" }), makeUsageRecord({ requestId: "locked-2" })]).pipe(Effect.fork)
      yield* Effect.sleep("100 millis")
      // The batch waits for the SqlClient's transaction instead of failing or blocking the event loop.
      expect(Option.isNone(yield* Fiber.poll(insert))).toBe(true)

      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(insert)
      expect(yield* countUsage.pipe(Effect.provide(context))).toBe(2)
    }))

  it.scopedLive("missing table fails, then recovers", () =>
    Effect.gen(function* () {
      const context = yield* openDatabase(yield* temporaryFile)
      const sql = yield* SqlClient.SqlClient.pipe(Effect.provide(context))
      const store = yield* UsageStore.pipe(Effect.provide(context))
      yield* store.insertBatch([makeUsageRecord({ requestId: "before-1" })])

      yield* sql`ALTER TABLE fluxen_usage RENAME TO fluxen_usage_moved`
      const error = yield* Effect.flip(store.insertBatch([makeUsageRecord({ requestId: "during-1" })]))
      expect(error).toBeInstanceOf(SqlError)
      expect(String(error.cause)).toContain("no such table")

      yield* sql`ALTER TABLE fluxen_usage_moved RENAME TO fluxen_usage`
      yield* store.insertBatch([makeUsageRecord({ requestId: "after-1" })])
      expect(yield* countUsage.pipe(Effect.provide(context))).toBe(2)
    }))
})
