/**
 * The policy tables in the gateway's own database, PostgreSQL or SQLite,
 * with a migrations table of their own.
 *
 * Column types per dialect, as in the usage table:
 * - times: PostgreSQL `timestamptz`, SQLite INTEGER milliseconds since the Unix epoch (UTC).
 * - JSON: PostgreSQL `jsonb`, SQLite JSON text.
 *
 * Keys are stored as the SHA-256 hex of the key, never the key itself.
 */
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { runMigrations, type AppliedMigrations } from "@fluxen/sdk/migrations"
import { Effect } from "effect"

/** Table in which the migrator stores the ids of applied policy migrations. */
export const policyMigrationsTable = "fluxen_policy_migrations"

const createPolicyTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_policy_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        team text,
        hash text NOT NULL UNIQUE,
        allowed_models jsonb,
        budgets jsonb NOT NULL,
        rate_limits jsonb NOT NULL,
        expires_at timestamptz,
        metadata jsonb NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_policy_keys (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        team TEXT,
        hash TEXT NOT NULL UNIQUE,
        allowed_models TEXT,
        budgets TEXT NOT NULL,
        rate_limits TEXT NOT NULL,
        expires_at INTEGER,
        metadata TEXT NOT NULL,
        revoked_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`
  })

  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_policy_teams (
        name text PRIMARY KEY,
        budgets jsonb NOT NULL,
        rate_limits jsonb NOT NULL,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_policy_teams (
        name TEXT PRIMARY KEY NOT NULL,
        budgets TEXT NOT NULL,
        rate_limits TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`
  })

  // `changes` lists the names of the fields an action set, never their values.
  yield* sql.onDialectOrElse({
    pg: () => sql`
      CREATE TABLE fluxen_policy_audit (
        id bigserial PRIMARY KEY,
        actor text NOT NULL,
        action text NOT NULL,
        target_id text NOT NULL,
        changes jsonb NOT NULL,
        created_at timestamptz NOT NULL
      )`,
    orElse: () => sql`
      CREATE TABLE fluxen_policy_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target_id TEXT NOT NULL,
        changes TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`
  })

  yield* sql`CREATE INDEX fluxen_policy_keys_team_idx ON fluxen_policy_keys (team)`
  yield* sql`CREATE INDEX fluxen_policy_audit_target_idx ON fluxen_policy_audit (target_id, created_at)`
})

/** Policy migrations keyed `<id>_<name>`. Applied migrations never change, so a schema change gets a new entry. */
export const policyMigrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "1_create_policy_tables": createPolicyTables
}

/**
 * Applies the policy migrations that the database has not seen yet, with the
 * SDK's `runMigrations`.
 *
 * NOTE: a failing migration is a defect (`Effect.die`), not a failure, so
 * callers that report errors must catch defects too.
 */
export const runPolicyMigrations: Effect.Effect<AppliedMigrations, MigrationError | SqlError, SqlClient.SqlClient> = runMigrations({
  table: policyMigrationsTable,
  migrations: policyMigrations
})
