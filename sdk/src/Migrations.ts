/**
 * Schema migrations for the runtime and for plugins that keep tables in the
 * gateway's database. Instances that start together on one PostgreSQL
 * database take turns: each run holds a transaction-level advisory lock
 * keyed by its schema and migrations table, so the first instance applies
 * the migrations and the others find them applied.
 *
 * SQLite runs without a lock, because one gateway process owns the file.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export interface MigrationsOptions {
  /** Table in which the applied migration ids are stored; it also names the lock. */
  readonly table: string
  /** Migrations keyed `<id>_<name>`. Applied migrations never change, so a schema change gets a new entry. */
  readonly migrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>>
}

/** The applied migrations as `[id, name]` pairs, empty when the schema is current. */
export type AppliedMigrations = ReadonlyArray<readonly [id: number, name: string]>

const migrator = Migrator.make({})

/**
 * Creates the migrations table as the migrator (`@effect/sql` 0.52) does.
 * The migrator checks for the table with `SELECT '<table>'::regclass`, which
 * fails when the table is missing and would abort the surrounding locked
 * transaction, so the table must exist before the migrator runs.
 */
const createMigrationsTable = (sql: SqlClient.SqlClient, table: string) =>
  sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    migration_id integer primary key,
    created_at timestamp with time zone not null default now(),
    name text not null
  )`

/**
 * Applies the migrations that the database has not seen yet, in one
 * transaction, and returns the ones it applied.
 *
 * NOTE: the migrator turns a failing migration into a defect, not a failure,
 * so callers that report errors must catch defects too.
 */
export const runMigrations = (options: MigrationsOptions): Effect.Effect<AppliedMigrations, Migrator.MigrationError | SqlError, SqlClient.SqlClient> => {
  const migrate = migrator({ loader: Migrator.fromRecord(options.migrations), table: options.table })

  return Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () =>
        sql.withTransaction(
          Effect.gen(function* () {
            // Waits for a concurrent run on the same schema and table; the lock ends with the transaction.
            yield* sql`SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.' || ${options.table}))`

            yield* createMigrationsTable(sql, options.table)

            return yield* migrate
          })
        ),
      orElse: () => migrate
    })
  )
}
