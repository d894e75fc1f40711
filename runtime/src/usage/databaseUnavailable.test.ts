/**
 * Which failed usage queries count as an unavailable database, checked on the
 * errors that real PostgreSQL and SQLite databases raise. PostgreSQL is
 * reached through a TCP proxy, which a test pauses to make the server hang
 * or stops to make it unreachable.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { isDatabaseUnavailable } from "./databaseUnavailable.js"
import { UsageDatabase } from "./UsageDatabase.js"
import { UsageStore } from "./UsageStore.js"
import { openPostgresThroughProxy, usageTestDatabases } from "./UsageTesting.js"

const sqlite = usageTestDatabases.find((database) => database.name === "SQLite")!

const totalsQuery = { from: new Date("2025-01-01T00:00:00Z"), to: new Date("2026-01-01T00:00:00Z"), groupBy: "model" } as const

/** Opens a fresh PostgreSQL database through a proxy, with reads bounded to 300 ms. */
const openPostgres = Effect.map(
  openPostgresThroughProxy({ connectTimeout: "1 second", queryTimeout: "300 millis" }),
  ({ services, proxy }) => ({ sql: Context.get(services, SqlClient.SqlClient), store: Context.get(services, UsageStore), proxy })
)

describe("isDatabaseUnavailable", () => {
  it.scoped("PostgreSQL: rejected query is not", () =>
    Effect.gen(function* () {
      const { sql } = yield* openPostgres

      const missingTable = yield* Effect.flip(sql`SELECT * FROM no_such_table`)
      const divisionByZero = yield* Effect.flip(sql`SELECT 1 / 0`)

      expect((missingTable.cause as { readonly code?: unknown }).code).toBe("42P01")
      expect(isDatabaseUnavailable(missingTable)).toBe(false)
      expect(isDatabaseUnavailable(divisionByZero)).toBe(false)
    }))

  it.scoped("PostgreSQL: terminated session is", () =>
    Effect.gen(function* () {
      const { sql } = yield* openPostgres

      // The server ends the session with SQLSTATE 57P01, as it does when shutting down.
      const terminated = yield* Effect.flip(sql`SELECT pg_terminate_backend(pg_backend_pid())`)

      expect((terminated.cause as { readonly code?: unknown }).code).toBe("57P01")
      expect(isDatabaseUnavailable(terminated)).toBe(true)
    }))

  it.scoped("PostgreSQL: refused connection is", () =>
    Effect.gen(function* () {
      const { store, proxy } = yield* openPostgres

      yield* proxy.stop
      const refused = yield* Effect.flip(store.totals(totalsQuery))

      expect(isDatabaseUnavailable(refused)).toBe(true)
    }))

  // Live, because the read's timeout runs on the real clock.
  it.scopedLive("PostgreSQL: hung read is", () =>
    Effect.gen(function* () {
      const { store, proxy } = yield* openPostgres

      yield* proxy.pause
      const started = Date.now()
      const hung = yield* Effect.flip(store.totals(totalsQuery))
      const elapsedMs = Date.now() - started

      expect(hung.message).toBe("Timed out after 300ms waiting for the database to respond to the query")
      expect(isDatabaseUnavailable(hung)).toBe(true)
      // The read returns at its timeout of 300 ms, without waiting for the query's cancellation.
      expect(elapsedMs).toBeLessThan(1_500)
    }))

  it.scoped("SQLite: rejected query is not", () =>
    Effect.gen(function* () {
      const options = yield* sqlite.create
      const sql = Context.get(yield* Layer.build(UsageDatabase.layer(options)), SqlClient.SqlClient)

      const missingTable = yield* Effect.flip(sql`SELECT * FROM no_such_table`)

      expect(isDatabaseUnavailable(missingTable)).toBe(false)
    }))
})
