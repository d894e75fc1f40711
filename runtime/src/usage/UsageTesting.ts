/**
 * Fixtures shared by the usage tests: a fresh SQLite file or PostgreSQL schema per test file,
 * a record builder, log capture and polling. Not exported from the package index.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { startTcpProxy } from "@fluxen/sdk/testing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import {
  UsageDatabase,
  type PostgresUsageDatabaseOptions,
  type SqliteDriver,
  type UsageDatabaseError,
  type UsageDatabaseOptions
} from "./UsageDatabase.js"
import type { UsageRecord } from "./UsageRecord.js"
import type { UsageStore } from "./UsageStore.js"

/** PostgreSQL server used by the tests. Set `FLUXEN_TEST_DATABASE_URL` to use another one. */
export const testPostgresUrl = process.env.FLUXEN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** A kind of database that the usage tests run against. */
export interface UsageTestDatabase {
  readonly name: string
  /** Creates an empty database that lives until the scope closes, and returns options that open it. */
  readonly create: Effect.Effect<UsageDatabaseOptions, SqlError, Scope.Scope>
}

// The file sits in a subdirectory that does not exist yet, so opening it also covers the
// creation of parent directories.
const createSqliteDatabase: Effect.Effect<UsageDatabaseOptions, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-usage-"))),
  (directory) => Effect.sync(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
).pipe(Effect.map((directory) => ({ sqlitePath: NodePath.join(directory, "data", "usage.db") })))

// A schema per test file keeps test files that run in parallel apart. The `search_path` option
// in the connection URL makes the usage tables land in that schema.
const createPostgresDatabase: Effect.Effect<{ readonly url: Redacted.Redacted<string> }, SqlError, Scope.Scope> = Effect.gen(function* () {
  const schema = `fluxen_usage_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(testPostgresUrl) }))
  const sql = Context.get(admin, SqlClient.SqlClient)

  yield* Effect.acquireRelease(sql`CREATE SCHEMA ${sql(schema)}`, () =>
    sql`DROP SCHEMA ${sql(schema)} CASCADE`.pipe(Effect.orDie)
  )

  const url = new URL(testPostgresUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return { url: Redacted.make(url.toString()) }
})

/**
 * The Node driver without its `SqliteBatchInserter` and `SqliteReader`, as on a runtime whose
 * driver has neither (Deno), so that the usage store's INSERTs and reads take the `SqlClient` path.
 */
export const sqlClientOnlyDriver: SqliteDriver = ({ filename, prepareCacheTtl }) =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@effect/sql-sqlite-node/SqliteClient")),
      (SqliteClient) => SqliteClient.layer({ filename, prepareCacheTTL: prepareCacheTtl })
    )
  )

export const usageTestDatabases: ReadonlyArray<UsageTestDatabase> = [
  { name: "SQLite", create: createSqliteDatabase },
  {
    name: "SQLite through the SqlClient",
    create: Effect.map(createSqliteDatabase, (options) => ({ ...options, driver: sqlClientOnlyDriver }))
  },
  { name: "PostgreSQL", create: createPostgresDatabase }
]

/**
 * Creates an empty PostgreSQL database and opens it through a TCP proxy, which a test pauses to
 * make the server hang or stops to make it unreachable. Returns the opened services and the proxy.
 */
export const openPostgresThroughProxy = (options: Omit<PostgresUsageDatabaseOptions, "url"> = {}) =>
  Effect.gen(function* () {
    const { url } = yield* createPostgresDatabase
    const proxiedUrl = new URL(Redacted.value(url))
    const proxy = yield* startTcpProxy(Number(proxiedUrl.port || 5432))
    proxiedUrl.hostname = "127.0.0.1"
    proxiedUrl.port = String(proxy.port)
    const services = yield* Layer.build(UsageDatabase.layer({ ...options, url: Redacted.make(proxiedUrl.toString()) }))
    return { services, proxy }
  })

/** Options of the current test database, for opening it a second time. */
export class TestDatabaseOptions extends Context.Tag("@fluxen/runtime/usage/TestDatabaseOptions")<
  TestDatabaseOptions,
  UsageDatabaseOptions
>() {}

/** Creates a test database and opens it with `UsageDatabase.layer`. Releasing the layer removes the database. */
export const layerUsageTestDatabase = (
  database: UsageTestDatabase
): Layer.Layer<SqlClient.SqlClient | UsageStore | TestDatabaseOptions, UsageDatabaseError | SqlError> =>
  Layer.unwrapScoped(
    Effect.map(database.create, (options) =>
      Layer.merge(UsageDatabase.layer(options), Layer.succeed(TestDatabaseOptions, options))
    )
  )

/** Deletes every usage record, so each test starts from an empty table. */
export const clearUsage: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM fluxen_usage`
})

/** Number of stored usage records. */
export const countUsage: Effect.Effect<number, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly count: number | string }>`SELECT count(*) AS count FROM fluxen_usage`
  return Number(rows[0]?.count ?? 0)
})

/** Builds a successful chat request record, with `overrides` replacing any field. */
export const makeUsageRecord = (overrides: Partial<UsageRecord> = {}): UsageRecord => ({
  requestId: `req_${randomUUID()}`,
  createdAt: new Date("2025-03-01T10:00:00.000Z"),
  keyId: "key_a",
  team: "team_a",
  requestedModel: "gpt-4o",
  resolvedModel: "gpt-4o-2024-08-06",
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
  priceVersion: "2025-03-01",
  cacheStatus: "miss",
  costSavedUsd: null,
  cacheSimilarity: null,
  firstByteMs: 120,
  totalMs: 450,
  errorType: null,
  metadata: null,
  ...overrides
})

/** One log line as the capturing logger saw it. */
export interface CapturedLog {
  readonly level: string
  readonly message: string
  /** `name: message` of the logged error and of each error along its `cause` chain, joined by " <- ". */
  readonly cause: string
  readonly annotations: Readonly<Record<string, unknown>>
}

const describeLoggedCause = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isEmpty(cause)) {
    return ""
  }
  const messages: Array<string> = []
  let current: unknown = Cause.squash(cause)
  while (current instanceof Error) {
    messages.push(`${current.name}: ${current.message}`)
    current = current.cause
  }
  return messages.length === 0 ? String(current) : messages.join(" <- ")
}

/** Creates a logger that stores every line in `logs`. Provide `layer` to the effect under test. */
export const captureLogs = (): { readonly logs: Array<CapturedLog>; readonly layer: Layer.Layer<never> } => {
  const logs: Array<CapturedLog> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    logs.push({
      level: logLevel.label,
      message: parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" "),
      cause: describeLoggedCause(cause),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Polls `condition` every 20 ms until it returns true, failing after `timeout`. */
export const waitUntil = <E, R>(
  description: string,
  condition: Effect.Effect<boolean, E, R>,
  timeout: Duration.DurationInput = Duration.seconds(5)
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function* () {
    while (!(yield* condition)) {
      yield* Effect.sleep(Duration.millis(20))
    }
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`Timed out after ${Duration.format(timeout)} waiting until ${description}`)
    })
  )
