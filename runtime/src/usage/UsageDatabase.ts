import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { describeCause } from "./describeCause.js"
import { runUsageMigrations } from "./migrations.js"
import { UsageStore } from "./UsageStore.js"

/** Usage database on a PostgreSQL server. */
export interface PostgresUsageDatabaseOptions {
  /**
   * Connection URL such as `postgres://user:password@host:5432/db`. Without one, the `pg` driver
   * reads the standard `PGHOST`, `PGUSER`, `PGPASSWORD` and related environment variables.
   */
  readonly url?: Redacted.Redacted<string> | undefined
  /** Time allowed at start to connect and complete a probe query. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Maximum connections in the pool. Default 10, the `pg` driver's default. */
  readonly maxConnections?: number | undefined
  /** Time one read of the usage store may take before it fails. Default 10 seconds. */
  readonly queryTimeout?: Duration.DurationInput | undefined
}

/** Builds the SQLite client for a file; each JavaScript runtime has its own SQLite binding. */
export type SqliteDriver = (options: { readonly filename: string; readonly prepareCacheTtl: Duration.Duration }) => Layer.Layer<SqlClient.SqlClient, unknown>

/**
 * The Node driver, better-sqlite3 through `@effect/sql-sqlite-node`. It is
 * imported on first use, because better-sqlite3 is a V8 addon that other
 * runtimes (Deno) cannot load. For a database file it also provides the
 * `SqliteBatchInserter` that the usage writer's INSERTs take, on a second
 * connection, and the `SqliteReader` that runs the usage store's reads on a
 * worker thread, on a third. An in-memory database exists only in its own
 * connection, so it gets neither.
 */
export const nodeSqliteDriver: SqliteDriver = ({ filename, prepareCacheTtl }) =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() =>
        Promise.all([
          import("@effect/sql-sqlite-node/SqliteClient"),
          import("./betterSqliteBatchInserter.js"),
          import("./workerSqliteReader.js")
        ])
      ),
      ([SqliteClient, { betterSqliteBatchInserterLayer }, { workerSqliteReaderLayer }]) => {
        const client = SqliteClient.layer({ filename, prepareCacheTTL: prepareCacheTtl })
        if (!isSharedFile(filename)) return client
        // Built after the writing connections, so that it closes before them. A read-only
        // connection that closes last cannot checkpoint the WAL file, so it leaves the file behind.
        return workerSqliteReaderLayer(filename).pipe(Layer.provideMerge(Layer.merge(client, betterSqliteBatchInserterLayer(filename))))
      }
    )
  )

// `:memory:`, an empty name (a temporary database) and `file:` URIs with their own options
// name databases that a second connection would not share.
const isSharedFile = (filename: string): boolean => filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")

/** Usage database in a local SQLite file. */
export interface SqliteUsageDatabaseOptions {
  /** Path of the database file. Missing parent directories are created, and `:memory:` keeps the database in memory. */
  readonly sqlitePath: string
  /** The SQLite binding; better-sqlite3 on Node by default. */
  readonly driver?: SqliteDriver | undefined
  /** Time allowed at start to complete a probe query. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Time one read of the usage store may take before it fails. Default 10 seconds. */
  readonly queryTimeout?: Duration.DurationInput | undefined
}

export type UsageDatabaseOptions = PostgresUsageDatabaseOptions | SqliteUsageDatabaseOptions

/** Failure to open, reach or migrate the usage database at start. Messages never contain the URL's password. */
export class UsageDatabaseError extends Schema.TaggedError<UsageDatabaseError>()("UsageDatabaseError", {
  reason: Schema.Literal("Open", "Connect", "Migrate"),
  message: Schema.String,
  cause: Schema.Defect
}) {}

const defaultConnectTimeout = Duration.seconds(5)

// better-sqlite3 statements are cached per SQL text, and the cache also keeps a failed prepare
// (for example "no such table" while the table is missing) until the entry expires. The default
// expiry of 10 minutes would keep the usage writer failing that long after the database recovers.
const sqlitePrepareCacheTtl = Duration.seconds(2)

// ============================================================================
// Descriptions for messages
// ============================================================================

const describeDatabase = (options: UsageDatabaseOptions): string => {
  if ("sqlitePath" in options) {
    return `SQLite database ${options.sqlitePath}`
  }
  if (options.url === undefined) {
    return "PostgreSQL database from the PG* environment variables"
  }
  try {
    // The query string can carry credentials too (password=, sslkey=), so it is left out.
    const url = new URL(Redacted.value(options.url))
    url.password = ""
    url.search = ""
    return `PostgreSQL database ${url.toString()}`
  } catch {
    return "PostgreSQL database at an unparseable URL"
  }
}

// Passwords to mask in messages built from driver errors, as written in the URL and decoded.
const secretsOf = (options: UsageDatabaseOptions): ReadonlyArray<string> => {
  if ("sqlitePath" in options || options.url === undefined) {
    return []
  }
  try {
    const password = new URL(Redacted.value(options.url)).password
    return password === "" ? [] : [password, decodeURIComponent(password)]
  } catch {
    return []
  }
}

// ============================================================================
// Layers
// ============================================================================

// Creates the missing directories one level at a time. NOTE: Node's own
// `mkdirSync(path, { recursive: true })` never returns for a path under /proc (seen with Node
// v20.20.2, where it keeps retrying the parent), which would hang the gateway at start.
const createDirectories = (directory: string): void => {
  const missing: Array<string> = []
  let current = directory
  while (!NodeFs.existsSync(current)) {
    missing.push(current)
    const parent = NodePath.dirname(current)
    if (parent === current) {
      break
    }
    current = parent
  }
  for (const path of missing.reverse()) {
    try {
      NodeFs.mkdirSync(path)
    } catch (error) {
      // Another process may have created it in the meantime.
      if (!(error instanceof Error && "code" in error && error.code === "EEXIST" && NodeFs.statSync(path).isDirectory())) {
        throw error
      }
    }
  }
  if (!NodeFs.statSync(directory).isDirectory()) {
    throw new Error(`${directory} exists but is not a directory`)
  }
}

const sqliteClientLayer = (
  options: SqliteUsageDatabaseOptions,
  database: string
): Layer.Layer<SqlClient.SqlClient, UsageDatabaseError> => {
  const filename = options.sqlitePath
  const createParentDirectory = Effect.try({
    try: () => {
      if (filename !== ":memory:" && !filename.startsWith("file:")) {
        createDirectories(NodePath.dirname(NodePath.resolve(filename)))
      }
    },
    catch: (cause) =>
      new UsageDatabaseError({
        reason: "Open",
        message: `Creating the directory for the ${database} failed: ${describeCause(cause, [])}. Check that the parent directory is writable or choose another path.`,
        cause
      })
  })

  // Opening a file that is not a SQLite database, or one in an unwritable place, throws while
  // the client is built, which reaches this point as a defect.
  const driver = options.driver ?? nodeSqliteDriver
  const client = driver({ filename, prepareCacheTtl: sqlitePrepareCacheTtl }).pipe(
    Layer.catchAllCause((cause) =>
      Layer.fail(
        new UsageDatabaseError({
          reason: "Open",
          message: `Opening the ${database} failed: ${describeCause(Cause.squash(cause), [])}. Check the path and its permissions.`,
          cause: Cause.squash(cause)
        })
      )
    )
  )

  return Layer.unwrapEffect(Effect.as(createParentDirectory, client))
}

const postgresClientLayer = (
  options: PostgresUsageDatabaseOptions,
  database: string,
  connectTimeout: Duration.Duration
): Layer.Layer<SqlClient.SqlClient, UsageDatabaseError> =>
  PgClient.layer({
    url: options.url,
    connectTimeout,
    maxConnections: options.maxConnections,
    applicationName: "fluxen"
  }).pipe(
    Layer.catchAllCause((cause) =>
      Layer.fail(
        new UsageDatabaseError({
          reason: "Connect",
          message: `Connecting to the ${database} failed: ${describeCause(Cause.squash(cause), secretsOf(options))}. Check the URL, the credentials and that the server is running.`,
          cause: Cause.squash(cause)
        })
      )
    )
  )

// Probes the connection, then applies pending migrations.
const prepareDatabase = (options: UsageDatabaseOptions, database: string, connectTimeout: Duration.Duration) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const secrets = secretsOf(options)

    yield* sql`SELECT 1`.pipe(
      Effect.mapError(
        (error) =>
          new UsageDatabaseError({
            reason: "Connect",
            message: `Probe query on the ${database} failed: ${describeCause(error, secrets)}.`,
            cause: error
          })
      ),
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () =>
          new UsageDatabaseError({
            reason: "Connect",
            message: `Probe query on the ${database} timed out after ${Duration.format(connectTimeout)}. Check that the server is reachable and not overloaded.`,
            cause: null
          })
      })
    )

    // In WAL mode (the SQLite client's default), NORMAL syncs the log at checkpoints instead of
    // at every commit: a crash of the process loses nothing, a crash of the machine may lose the
    // last commits. SQLite runs on the event loop's thread, so each sync at a commit would hold
    // up every request for as long as the disk takes.
    yield* sql.onDialectOrElse({
      sqlite: () =>
        sql`PRAGMA synchronous = NORMAL`.pipe(
          Effect.catchAll((error) => Effect.logWarning("Setting SQLite's synchronous mode to NORMAL failed, so each commit still syncs to disk.", error))
        ),
      orElse: () => Effect.void
    })

    const applied = yield* runUsageMigrations.pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(
          new UsageDatabaseError({
            reason: "Migrate",
            message: `Migrating the ${database} failed: ${describeCause(Cause.squash(cause), secrets)}.`,
            cause: Cause.squash(cause)
          })
        )
      )
    )

    yield* Effect.logInfo("Usage database ready").pipe(
      Effect.annotateLogs({
        "usage.database": database,
        "usage.migrations_applied": applied.length === 0 ? "none" : applied.map(([id, name]) => `${id}_${name}`).join(", ")
      })
    )
  })

/**
 * Opens the usage database, probes it, applies pending migrations and provides the `SqlClient`
 * and a `UsageStore` on it. Fails with `UsageDatabaseError` when any of these steps fails, so a
 * bad URL or path stops the gateway at start.
 */
const layer = (options: UsageDatabaseOptions): Layer.Layer<SqlClient.SqlClient | UsageStore, UsageDatabaseError> => {
  const database = describeDatabase(options)
  const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)

  const client =
    "sqlitePath" in options
      ? sqliteClientLayer(options, database)
      : postgresClientLayer(options, database, connectTimeout)
  const migrated = Layer.effectDiscard(prepareDatabase(options, database, connectTimeout)).pipe(
    Layer.provideMerge(client)
  )

  return UsageStore.layer({ queryTimeout: options.queryTimeout }).pipe(Layer.provideMerge(migrated))
}

/** Usage database layers. */
export const UsageDatabase = { layer } as const
