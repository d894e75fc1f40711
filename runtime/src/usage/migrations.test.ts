import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { runMigrations } from "@fluxen/sdk/migrations"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { usageMigrations, usageMigrationsTable } from "./migrations.js"
import { nodeSqliteDriver, UsageDatabase, type UsageDatabaseOptions } from "./UsageDatabase.js"
import { encodeUsageRow, type UsageDialect } from "./UsageRow.js"
import { UsageStore } from "./UsageStore.js"
import { makeUsageRecord, usageTestDatabases } from "./UsageTesting.js"

const from = new Date("2025-03-01T00:00:00.000Z")
const to = new Date("2025-03-02T00:00:00.000Z")

// The migrations of a database written before the 1-hour cache-write column existed.
const migrationsBeforeCacheWrite1h = Object.fromEntries(
  Object.entries(usageMigrations).filter(([key]) => Number.parseInt(key, 10) < 3)
)

// Opens the database without `UsageDatabase`, which would apply every migration.
const rawClient = (options: UsageDatabaseOptions): Layer.Layer<SqlClient.SqlClient, unknown> => {
  if ("url" in options) return PgClient.layer({ url: options.url })
  NodeFs.mkdirSync(NodePath.dirname(options.sqlitePath), { recursive: true })
  return nodeSqliteDriver({ filename: options.sqlitePath, prepareCacheTtl: Duration.minutes(1) })
}

// Writes a row as the store wrote it before migration 3: without the new column.
const insertOldRow = (dialect: UsageDialect) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { cache_write_1h_tokens: _absent, ...row } = encodeUsageRow(
      dialect,
      makeUsageRecord({ requestId: "before", cacheWriteTokens: 300 })
    )

    yield* sql`INSERT INTO fluxen_usage ${sql.insert(row)}`
  })

for (const database of usageTestDatabases) {
  const dialect: UsageDialect = database.name === "PostgreSQL" ? "pg" : "sqlite"

  describe(`usage migrations on ${database.name}`, () => {
    it.scopedLive("1-hour cache-write column added", () =>
      Effect.gen(function* () {
        const options = yield* database.create
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* runMigrations({ table: usageMigrationsTable, migrations: migrationsBeforeCacheWrite1h })
            yield* insertOldRow(dialect)
          }).pipe(Effect.provide(rawClient(options)))
        )

        const context = yield* Layer.build(UsageDatabase.layer(options))
        const sql = yield* Effect.provide(SqlClient.SqlClient, context)
        const store = yield* Effect.provide(UsageStore, context)
        yield* store.insertBatch([makeUsageRecord({ requestId: "after", cacheWriteTokens: 500, cacheWrite1hTokens: 200 })])
        const records = yield* store.list({ from, to, limit: 10 })
        const totals = yield* store.totals({ from, to, groupBy: "key" })
        const applied = yield* sql<{ readonly name: string }>`SELECT name FROM fluxen_usage_migrations ORDER BY migration_id`

        expect(applied.map((migration) => migration.name)).toContain("add_cache_write_1h_tokens")
        expect(records.find((record) => record.requestId === "before")?.cacheWrite1hTokens).toBeNull()
        expect(records.find((record) => record.requestId === "after")?.cacheWrite1hTokens).toBe(200)
        expect(totals[0]?.cacheWriteTokens).toBe(800)
        expect(totals[0]?.cacheWrite1hTokens).toBe(200)
      })
    )
  })
}
