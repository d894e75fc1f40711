import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { runMigrations, type AppliedMigrations } from "@fluxen/sdk/migrations"
import * as Effect from "effect/Effect"

/** Table in which the migrator stores the ids of applied usage migrations. */
export const usageMigrationsTable = "fluxen_usage_migrations"

/**
 * Column types per dialect:
 * - `created_at`: PostgreSQL `timestamptz`, SQLite INTEGER milliseconds since the Unix epoch (UTC).
 * - booleans: PostgreSQL `boolean`, SQLite INTEGER 0 or 1.
 * - costs: PostgreSQL `numeric`, so sums of many small costs stay exact, and SQLite REAL.
 * - `metadata`: PostgreSQL `jsonb`, SQLite JSON text.
 *
 * The enum-like text columns (`endpoint`, `status`, `cache_status`) have no CHECK constraint on
 * purpose: a value added in code before a migration would otherwise make every batch that contains
 * it fail.
 */
const createUsageTable = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_usage (
        request_id text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        key_id text,
        team text,
        requested_model text NOT NULL,
        resolved_model text,
        provider text,
        endpoint text NOT NULL,
        status text NOT NULL,
        http_status integer NOT NULL,
        stream boolean NOT NULL,
        prompt_tokens bigint,
        completion_tokens bigint,
        cached_input_tokens bigint,
        cache_write_tokens bigint,
        reasoning_tokens bigint,
        usage_estimated boolean NOT NULL,
        cost_usd numeric,
        price_version text,
        cache_status text,
        cost_saved_usd numeric,
        first_byte_ms bigint,
        total_ms bigint NOT NULL,
        error_type text,
        metadata jsonb
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_usage (
        request_id TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        key_id TEXT,
        team TEXT,
        requested_model TEXT NOT NULL,
        resolved_model TEXT,
        provider TEXT,
        endpoint TEXT NOT NULL,
        status TEXT NOT NULL,
        http_status INTEGER NOT NULL,
        stream INTEGER NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cached_input_tokens INTEGER,
        cache_write_tokens INTEGER,
        reasoning_tokens INTEGER,
        usage_estimated INTEGER NOT NULL,
        cost_usd REAL,
        price_version TEXT,
        cache_status TEXT,
        cost_saved_usd REAL,
        first_byte_ms INTEGER,
        total_ms INTEGER NOT NULL,
        error_type TEXT,
        metadata TEXT
      )`
  })

  yield* sql`CREATE INDEX fluxen_usage_created_at_idx ON fluxen_usage (created_at)`
  yield* sql`CREATE INDEX fluxen_usage_key_id_created_at_idx ON fluxen_usage (key_id, created_at)`
  yield* sql`CREATE INDEX fluxen_usage_resolved_model_created_at_idx ON fluxen_usage (resolved_model, created_at)`
})

/**
 * Usage migrations keyed `<id>_<name>`. Applied migrations never change, so a schema change gets
 * a new entry with the next id.
 */
const addCacheSimilarity = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () => sql`ALTER TABLE fluxen_usage ADD COLUMN cache_similarity double precision`,
    orElse: () => sql`ALTER TABLE fluxen_usage ADD COLUMN cache_similarity REAL`
  })
})

// Rows written before this migration keep NULL: their 1-hour writes, if any, were not recorded.
const addCacheWrite1hTokens = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () => sql`ALTER TABLE fluxen_usage ADD COLUMN cache_write_1h_tokens bigint`,
    orElse: () => sql`ALTER TABLE fluxen_usage ADD COLUMN cache_write_1h_tokens INTEGER`
  })
})

export const usageMigrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "1_create_usage_table": createUsageTable,
  "2_add_cache_similarity": addCacheSimilarity,
  "3_add_cache_write_1h_tokens": addCacheWrite1hTokens
}

/**
 * Applies the usage migrations that the database has not seen yet, with the
 * SDK's `runMigrations`.
 *
 * NOTE: a failing migration is a defect (`Effect.die`), not a failure, so
 * callers that report errors must catch defects too.
 */
export const runUsageMigrations: Effect.Effect<AppliedMigrations, MigrationError | SqlError, SqlClient.SqlClient> = runMigrations({
  table: usageMigrationsTable,
  migrations: usageMigrations
})
