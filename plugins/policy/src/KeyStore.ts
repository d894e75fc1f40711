/**
 * Reading and writing the policy tables: keys, teams and the audit log.
 * Times are `Date` here and converted per dialect at the SQL boundary.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"
import { BudgetLimit, RateLimits } from "./Limits.js"

export interface KeyRecord {
  readonly id: string
  readonly name: string
  readonly team: string | null
  /** SHA-256 hex of the key. */
  readonly hash: string
  /** Null when every model is allowed. */
  readonly allowedModels: ReadonlyArray<string> | null
  readonly budgets: ReadonlyArray<BudgetLimit>
  readonly limits: RateLimits
  readonly expiresAt: Date | null
  readonly metadata: Readonly<Record<string, string>>
  readonly revokedAt: Date | null
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface TeamRecord {
  readonly name: string
  readonly budgets: ReadonlyArray<BudgetLimit>
  readonly limits: RateLimits
  readonly metadata: Readonly<Record<string, string>>
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface AuditEntry {
  readonly actor: string
  /** `key.create`, `key.update`, `key.revoke`, `team.create` or `team.update`. */
  readonly action: string
  readonly targetId: string
  /** Names of the fields the action set. */
  readonly changes: ReadonlyArray<string>
}

export interface AuditRecord extends AuditEntry {
  readonly createdAt: Date
}

const Metadata = Schema.Record({ key: Schema.String, value: Schema.String })
const AllowedModels = Schema.NullOr(Schema.Array(Schema.String))
const Budgets = Schema.Array(BudgetLimit)
const FieldNames = Schema.Array(Schema.String)

// PostgreSQL returns jsonb columns parsed; SQLite returns the JSON text.
const decodeJson = <A, I>(schema: Schema.Schema<A, I>, value: unknown): A =>
  Schema.decodeUnknownSync(schema)(typeof value === "string" ? JSON.parse(value) : value)

const decodeTime = (value: unknown): Date => (value instanceof Date ? value : new Date(Number(value)))

const decodeOptionalTime = (value: unknown): Date | null => (value === null || value === undefined ? null : decodeTime(value))

interface KeyRow {
  readonly id: string
  readonly name: string
  readonly team: string | null
  readonly hash: string
  readonly allowed_models: unknown
  readonly budgets: unknown
  readonly rate_limits: unknown
  readonly expires_at: unknown
  readonly metadata: unknown
  readonly revoked_at: unknown
  readonly created_at: unknown
  readonly updated_at: unknown
}

interface TeamRow {
  readonly name: string
  readonly budgets: unknown
  readonly rate_limits: unknown
  readonly metadata: unknown
  readonly created_at: unknown
  readonly updated_at: unknown
}

const decodeKeyRow = (row: KeyRow): KeyRecord => ({
  id: row.id,
  name: row.name,
  team: row.team,
  hash: row.hash,
  allowedModels: decodeJson(AllowedModels, row.allowed_models ?? null),
  budgets: decodeJson(Budgets, row.budgets),
  limits: decodeJson(RateLimits, row.rate_limits),
  expiresAt: decodeOptionalTime(row.expires_at),
  metadata: decodeJson(Metadata, row.metadata),
  revokedAt: decodeOptionalTime(row.revoked_at),
  createdAt: decodeTime(row.created_at),
  updatedAt: decodeTime(row.updated_at)
})

const decodeTeamRow = (row: TeamRow): TeamRecord => ({
  name: row.name,
  budgets: decodeJson(Budgets, row.budgets),
  limits: decodeJson(RateLimits, row.rate_limits),
  metadata: decodeJson(Metadata, row.metadata),
  createdAt: decodeTime(row.created_at),
  updatedAt: decodeTime(row.updated_at)
})

/**
 * Opens the store on the gateway's database. Rows that do not decode (edited
 * by hand into an invalid shape) are defects, not failures, because no retry
 * can fix them.
 */
export const makeKeyStore = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const time = (date: Date): Date | number => (dialect === "pg" ? date : date.getTime())
  const optionalTime = (date: Date | null): Date | number | null => (date === null ? null : time(date))

  const keyColumns = (key: KeyRecord) => ({
    id: key.id,
    name: key.name,
    team: key.team,
    hash: key.hash,
    allowed_models: key.allowedModels === null ? null : JSON.stringify(key.allowedModels),
    budgets: JSON.stringify(key.budgets),
    rate_limits: JSON.stringify(key.limits),
    expires_at: optionalTime(key.expiresAt),
    metadata: JSON.stringify(key.metadata),
    revoked_at: optionalTime(key.revokedAt),
    created_at: time(key.createdAt),
    updated_at: time(key.updatedAt)
  })

  const teamColumns = (team: TeamRecord) => ({
    name: team.name,
    budgets: JSON.stringify(team.budgets),
    rate_limits: JSON.stringify(team.limits),
    metadata: JSON.stringify(team.metadata),
    created_at: time(team.createdAt),
    updated_at: time(team.updatedAt)
  })

  const findKeyByHash = (hash: string): Effect.Effect<Option.Option<KeyRecord>, SqlError> =>
    Effect.map(sql<KeyRow>`SELECT * FROM fluxen_policy_keys WHERE hash = ${hash}`, (rows) =>
      Option.map(Option.fromNullable(rows[0]), decodeKeyRow)
    )

  const findKeyById = (id: string): Effect.Effect<Option.Option<KeyRecord>, SqlError> =>
    Effect.map(sql<KeyRow>`SELECT * FROM fluxen_policy_keys WHERE id = ${id}`, (rows) =>
      Option.map(Option.fromNullable(rows[0]), decodeKeyRow)
    )

  const listKeys: Effect.Effect<ReadonlyArray<KeyRecord>, SqlError> = Effect.map(
    sql<KeyRow>`SELECT * FROM fluxen_policy_keys ORDER BY created_at, id`,
    (rows) => rows.map(decodeKeyRow)
  )

  const insertKey = (key: KeyRecord): Effect.Effect<void, SqlError> =>
    Effect.asVoid(sql`INSERT INTO fluxen_policy_keys ${sql.insert(keyColumns(key))}`)

  /** Writes every column of the key except its id, hash and creation time. */
  const updateKey = (key: KeyRecord): Effect.Effect<void, SqlError> => {
    const { id: _id, hash: _hash, created_at: _created, ...columns } = keyColumns(key)
    return Effect.asVoid(sql`UPDATE fluxen_policy_keys SET ${sql.update(columns)} WHERE id = ${key.id}`)
  }

  const findTeam = (name: string): Effect.Effect<Option.Option<TeamRecord>, SqlError> =>
    Effect.map(sql<TeamRow>`SELECT * FROM fluxen_policy_teams WHERE name = ${name}`, (rows) =>
      Option.map(Option.fromNullable(rows[0]), decodeTeamRow)
    )

  const listTeams: Effect.Effect<ReadonlyArray<TeamRecord>, SqlError> = Effect.map(
    sql<TeamRow>`SELECT * FROM fluxen_policy_teams ORDER BY name`,
    (rows) => rows.map(decodeTeamRow)
  )

  const insertTeam = (team: TeamRecord): Effect.Effect<void, SqlError> =>
    Effect.asVoid(sql`INSERT INTO fluxen_policy_teams ${sql.insert(teamColumns(team))}`)

  const updateTeam = (team: TeamRecord): Effect.Effect<void, SqlError> => {
    const { name: _name, created_at: _created, ...columns } = teamColumns(team)
    return Effect.asVoid(sql`UPDATE fluxen_policy_teams SET ${sql.update(columns)} WHERE name = ${team.name}`)
  }

  const appendAudit = (entry: AuditEntry, at: Date): Effect.Effect<void, SqlError> =>
    Effect.asVoid(
      sql`INSERT INTO fluxen_policy_audit ${sql.insert({
        actor: entry.actor,
        action: entry.action,
        target_id: entry.targetId,
        changes: JSON.stringify(entry.changes),
        created_at: time(at)
      })}`
    )

  const listAudit = (targetId: string): Effect.Effect<ReadonlyArray<AuditRecord>, SqlError> =>
    Effect.map(
      sql<{ actor: string; action: string; target_id: string; changes: unknown; created_at: unknown }>`
        SELECT actor, action, target_id, changes, created_at FROM fluxen_policy_audit
        WHERE target_id = ${targetId} ORDER BY id`,
      (rows) =>
        rows.map((row) => ({
          actor: row.actor,
          action: row.action,
          targetId: row.target_id,
          changes: decodeJson(FieldNames, row.changes),
          createdAt: decodeTime(row.created_at)
        }))
    )

  /** Runs `effect` in one transaction, so a change and its audit entry are written together. */
  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => sql.withTransaction(effect)

  return {
    dialect,
    findKeyByHash,
    findKeyById,
    listKeys,
    insertKey,
    updateKey,
    findTeam,
    listTeams,
    insertTeam,
    updateTeam,
    appendAudit,
    listAudit,
    transaction
  }
})

export type KeyStore = Effect.Effect.Success<typeof makeKeyStore>
