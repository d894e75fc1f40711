/**
 * A usage database for the forecaster's tests: a fresh SQLite file or a
 * fresh PostgreSQL schema. The runtime itself creates and migrates it (a
 * gateway with no providers and no plugins), so the tests read the exact
 * table the runtime writes. Records are inserted through the runtime's
 * `UsageStore`; the tests query through their own `SqlClient`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { parseConfig, startNodeGateway, UsageStore, type UsageRecord } from "@fluxen/runtime"
import { Context, Effect, Either, Layer, Logger, LogLevel, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { runForecasterMigrations } from "../migrations.js"

/** PostgreSQL server used by the tests. Set `FLUXEN_TEST_DATABASE_URL` to use another one. */
export const testPostgresUrl = process.env.FLUXEN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export type TestDialect = "sqlite" | "postgres"

export const testDialects: ReadonlyArray<TestDialect> = ["sqlite", "postgres"]

export interface UsageSeeder {
  /** Inserts records through the runtime's usage store. */
  readonly insert: (records: ReadonlyArray<UsageRecord>) => Effect.Effect<void, unknown>
  /** Deletes every usage record and every forecaster row, so that a test starts from empty tables. */
  readonly clear: Effect.Effect<void, unknown>
}

export class TestUsageDatabase extends Context.Tag("@fluxen/forecaster/testing/TestUsageDatabase")<TestUsageDatabase, UsageSeeder>() {}

const quietLogs = Logger.minimumLogLevel(LogLevel.Warning)

// A schema per test file keeps files that run in parallel apart; it is dropped when the layer closes.
const postgresSchema = Effect.gen(function* () {
  const admin = Context.get(yield* Layer.build(PgClient.layer({ url: Redacted.make(testPostgresUrl) })), SqlClient.SqlClient)
  const schema = `fluxen_forecaster_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  yield* Effect.acquireRelease(admin`CREATE SCHEMA ${admin(schema)}`, () => admin`DROP SCHEMA ${admin(schema)} CASCADE`.pipe(Effect.orDie))
  return schema
})

const sqliteDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(Path.join(tmpdir(), "fluxen-forecaster-"))),
  (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
)

/**
 * Creates a usage database of the given dialect with the forecaster's tables.
 * The layer provides an `SqlClient` on it and a `TestUsageDatabase` seeder.
 * Closing the layer removes the database.
 */
export const layerTestUsageDatabase = (dialect: TestDialect): Layer.Layer<SqlClient.SqlClient | TestUsageDatabase, unknown> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const directory = yield* sqliteDirectory
      let databaseUrl = ""
      let client: Layer.Layer<SqlClient.SqlClient, unknown>
      if (dialect === "postgres") {
        const schema = yield* postgresSchema
        const url = new URL(testPostgresUrl)
        url.searchParams.set("options", `-c search_path=${schema}`)
        databaseUrl = url.toString()
        client = PgClient.layer({ url: Redacted.make(databaseUrl) })
      } else {
        client = SqliteClient.layer({ filename: Path.join(directory, "usage.db") })
      }

      const yaml = `
server: { host: 127.0.0.1, port: 0 }
usage: { databaseUrl: "${databaseUrl}", sqlitePath: ./usage.db, flushInterval: 50 }
providers: {}
plugins: []
`
      const loaded = parseConfig(yaml, { source: "forecaster-test.yaml", directory, env: {} })
      if (Either.isLeft(loaded)) return yield* Effect.die(new Error(loaded.left.message))
      const running = yield* startNodeGateway(loaded.right).pipe(Effect.provide(quietLogs))
      const store = Context.get(running.services, UsageStore)

      const sqlContext = yield* Layer.build(client)
      const sql = Context.get(sqlContext, SqlClient.SqlClient)
      yield* runForecasterMigrations.pipe(Effect.provide(sqlContext))
      const clear = Effect.gen(function* () {
        yield* sql`DELETE FROM fluxen_usage`
        yield* sql`DELETE FROM fluxen_forecaster_alerts`
        yield* sql`DELETE FROM fluxen_forecaster_shadow`
      })

      const seeder: UsageSeeder = { insert: (records) => store.insertBatch(records), clear }
      return Layer.merge(Layer.succeedContext(sqlContext), Layer.succeed(TestUsageDatabase, seeder))
    })
  )

/** Builds a successful chat request record; `overrides` replace any field. */
export const makeUsageRecord = (overrides: Partial<UsageRecord> = {}): UsageRecord => ({
  requestId: `req_${randomUUID()}`,
  createdAt: new Date("2025-03-01T10:00:00.000Z"),
  keyId: null,
  team: null,
  requestedModel: "gpt-4o",
  resolvedModel: "gpt-4o",
  provider: "openai",
  endpoint: "chat",
  status: "ok",
  httpStatus: 200,
  stream: false,
  promptTokens: 100,
  completionTokens: 20,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  usageEstimated: false,
  costUsd: 0.001,
  priceVersion: "test",
  cacheStatus: "miss",
  costSavedUsd: null,
  firstByteMs: 100,
  totalMs: 300,
  errorType: null,
  metadata: null,
  ...overrides
})
