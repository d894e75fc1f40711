/**
 * The forecaster's tables in the gateway's own database, PostgreSQL or
 * SQLite, with a migrations table of their own.
 *
 * Column types per dialect, as in the usage table: times are PostgreSQL
 * `timestamptz` and SQLite INTEGER milliseconds since the Unix epoch (UTC).
 * The shadow table stores scores and token counts, never prompt or
 * completion text.
 */
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { runMigrations, type AppliedMigrations } from "@fluxen/sdk/migrations"
import { Effect } from "effect"

/** Table in which the migrator stores the ids of applied forecaster migrations. */
export const forecasterMigrationsTable = "fluxen_forecaster_migrations"

const createForecasterTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  // One row per alert sent. Its primary key lets only one check claim an alert.
  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_forecaster_alerts (
        budget_id text NOT NULL,
        period_start text NOT NULL,
        threshold double precision NOT NULL,
        sent_at timestamptz NOT NULL,
        projected_usd double precision NOT NULL,
        limit_usd double precision NOT NULL,
        PRIMARY KEY (budget_id, period_start, threshold)
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_forecaster_alerts (
        budget_id TEXT NOT NULL,
        period_start TEXT NOT NULL,
        threshold REAL NOT NULL,
        sent_at INTEGER NOT NULL,
        projected_usd REAL NOT NULL,
        limit_usd REAL NOT NULL,
        PRIMARY KEY (budget_id, period_start, threshold)
      )`
  })

  // `model` is the original request's upstream model, as in `fluxen_usage.resolved_model`.
  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_forecaster_shadow (
        request_id text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        model text NOT NULL,
        candidate text NOT NULL,
        status text NOT NULL,
        comparison text,
        score double precision,
        original_completion_tokens bigint,
        candidate_completion_tokens bigint,
        candidate_latency_ms bigint NOT NULL,
        error_type text
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_forecaster_shadow (
        request_id TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        model TEXT NOT NULL,
        candidate TEXT NOT NULL,
        status TEXT NOT NULL,
        comparison TEXT,
        score REAL,
        original_completion_tokens INTEGER,
        candidate_completion_tokens INTEGER,
        candidate_latency_ms INTEGER NOT NULL,
        error_type TEXT
      )`
  })

  yield* sql`CREATE INDEX fluxen_forecaster_shadow_pair_idx ON fluxen_forecaster_shadow (model, candidate, created_at)`
})

/** Forecaster migrations keyed `<id>_<name>`. Applied migrations never change; a schema change gets a new entry. */
export const forecasterMigrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "1_create_forecaster_tables": createForecasterTables
}

/**
 * Applies the forecaster migrations that the database has not seen yet, with the
 * SDK's `runMigrations`.
 *
 * NOTE: a failing migration is a defect (`Effect.die`), not a failure, so
 * callers that report errors must catch defects too.
 */
export const runForecasterMigrations: Effect.Effect<AppliedMigrations, MigrationError | SqlError, SqlClient.SqlClient> = runMigrations({
  table: forecasterMigrationsTable,
  migrations: forecasterMigrations
})
