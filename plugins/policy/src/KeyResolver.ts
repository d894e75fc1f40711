/**
 * Finding the key behind a request: the static keys from the YAML, then the
 * keys table, with the settings of the key's team.
 *
 * Looked-up keys, and hashes that matched no key, are cached in memory for
 * `keyCacheTtlMs`. An admin change on this instance clears the cache at
 * once; on other instances a revoked or changed key takes effect within
 * the TTL.
 *
 * A static key keeps working while the database fails. Its team's row of
 * the teams table is then the one last read, and without one the team has
 * only its YAML limits. Keeping the last row keeps limits that an
 * administrator set through the API in force during the outage, and the row
 * is read again once the database responds. Keys made through the admin API
 * cannot be found without the database, so their lookups fail.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Redacted } from "effect"
import { hashesEqual, hashKey } from "./ApiKey.js"
import type { KeyRecord, KeyStore, TeamRecord } from "./KeyStore.js"
import type { BudgetLimit, RateLimits } from "./Limits.js"
import { makeThrottledWarning } from "./LogLimits.js"
import type { StaticKey } from "./PolicyConfig.js"

/** A key with everything admission needs. */
export interface ResolvedKey {
  readonly id: string
  readonly name: string
  readonly team: string | null
  /** Null when every model is allowed. */
  readonly allowedModels: ReadonlyArray<string> | null
  readonly budgets: ReadonlyArray<BudgetLimit>
  readonly limits: RateLimits
  readonly metadata: Readonly<Record<string, string>>
  /** Epoch milliseconds, or null when the key never expires. */
  readonly expiresAtMs: number | null
  readonly revoked: boolean
  /** Budgets and rate limits of the team from the teams table; the YAML ones are added at admission. */
  readonly teamBudgets: ReadonlyArray<BudgetLimit>
  readonly teamLimits: RateLimits
}

/** Bounds the memory of the cache, since clients choose the keys they send. */
const MAX_CACHED_KEYS = 10_000
const TEAM_FAILURE_WARNING_INTERVAL_MS = 10_000
/** Time a static key's team read may take before the key uses its fallback team settings. */
const STATIC_TEAM_READ_TIMEOUT_MS = 1_000
/** Time after a failed team read during which static keys do not read their team from the database. */
const STATIC_TEAM_RETRY_AFTER_MS = 5_000

export const staticKeyId = (name: string): string => `static:${name}`

export interface KeyResolverOptions {
  /** The plugin's instance name, for log annotations. */
  readonly pluginName: string
  readonly store: KeyStore
  readonly staticKeys: ReadonlyArray<StaticKey>
  readonly keyCacheTtlMs: number
  readonly now?: () => number
}

interface CacheEntry {
  readonly key: ResolvedKey | undefined
  readonly expiresAtMs: number
}

const withTeam = (team: Option.Option<TeamRecord>) => ({
  teamBudgets: Option.match(team, { onNone: () => [], onSome: (found) => found.budgets }),
  teamLimits: Option.match(team, { onNone: () => ({}), onSome: (found) => found.limits })
})

export const makeKeyResolver = (options: KeyResolverOptions) => {
  const { store, keyCacheTtlMs } = options
  const now = options.now ?? Date.now
  const cache = new Map<string, CacheEntry>()
  const staticByHash = new Map<string, StaticKey>()
  for (const entry of options.staticKeys) staticByHash.set(hashKey(Redacted.value(entry.key)), entry)

  // The last teams table row read for each team of a static key: `none` when the team had no row.
  const lastStaticTeams = new Map<string, Option.Option<TeamRecord>>()
  const staticTeamNames = new Set(options.staticKeys.flatMap((entry) => (entry.team === undefined ? [] : [entry.team])))
  const warnStaticTeamFailure = makeThrottledWarning(
    "Reading the team of a static key from the database failed, so the key keeps working with the team's limits from the YAML and from the team's row last read, if any. Keys made through the admin API fail until the database responds.",
    TEAM_FAILURE_WARNING_INTERVAL_MS
  )

  const teamOf = (team: string | null | undefined): Effect.Effect<Option.Option<TeamRecord>, SqlError> => {
    if (team === null || team === undefined) return Effect.succeed(Option.none())
    return Effect.tap(store.findTeam(team), (found) => {
      if (staticTeamNames.has(team)) lastStaticTeams.set(team, found)
    })
  }

  // After a failed or timed-out read, static keys use the fallback without asking the database
  // until this time, so that requests do not each wait on a database that does not respond.
  let teamReadsSkippedUntilMs = 0

  /** Returns the team row last read for a static key's team, and logs why the database was not used. */
  const lastStaticTeam = (entry: StaticKey, reason: string): Effect.Effect<Option.Option<TeamRecord>> => {
    const last = entry.team === undefined ? undefined : lastStaticTeams.get(entry.team)
    const warning = warnStaticTeamFailure({
      plugin: options.pluginName,
      "key.name": entry.name,
      team: entry.team,
      "team.database_row": last === undefined ? "never read" : Option.isSome(last) ? "last read" : "no row",
      error: reason
    })
    return Effect.as(warning, last ?? Option.none())
  }

  /**
   * Reads the team of a static key, falling back to the row last read when the database fails or
   * does not respond within `STATIC_TEAM_READ_TIMEOUT_MS`. A stalled connection would otherwise
   * hold the request until the operating system gives up on it.
   */
  const staticTeamOf = (entry: StaticKey): Effect.Effect<Option.Option<TeamRecord>> => {
    if (entry.team === undefined) return Effect.succeed(Option.none())
    if (now() < teamReadsSkippedUntilMs) return lastStaticTeam(entry, "an earlier read failed or timed out")
    return teamOf(entry.team).pipe(
      // The client waits for a query it interrupts to end, so the timeout leaves it to end in the background.
      Effect.disconnect,
      Effect.timeoutFail({
        duration: STATIC_TEAM_READ_TIMEOUT_MS,
        onTimeout: () => new Error(`the database did not respond within ${STATIC_TEAM_READ_TIMEOUT_MS} ms`)
      }),
      Effect.catchAll((error) => {
        teamReadsSkippedUntilMs = now() + STATIC_TEAM_RETRY_AFTER_MS
        return lastStaticTeam(entry, error.message)
      })
    )
  }

  const fromStatic = (entry: StaticKey) =>
    Effect.map(staticTeamOf(entry), (team): ResolvedKey => ({
      id: staticKeyId(entry.name),
      name: entry.name,
      team: entry.team ?? null,
      allowedModels: entry.models ?? null,
      budgets: entry.budgets,
      limits: entry.limits,
      metadata: entry.metadata,
      expiresAtMs: null,
      revoked: false,
      ...withTeam(team)
    }))

  const fromRecord = (record: KeyRecord) =>
    Effect.map(teamOf(record.team), (team): ResolvedKey => ({
      id: record.id,
      name: record.name,
      team: record.team,
      allowedModels: record.allowedModels,
      budgets: record.budgets,
      limits: record.limits,
      metadata: record.metadata,
      expiresAtMs: record.expiresAt?.getTime() ?? null,
      revoked: record.revokedAt !== null,
      ...withTeam(team)
    }))

  const lookUp = (hash: string): Effect.Effect<ResolvedKey | undefined, SqlError> => {
    const entry = staticByHash.get(hash)
    if (entry !== undefined) return fromStatic(entry)
    return Effect.flatMap(store.findKeyByHash(hash), (found) =>
      Option.isSome(found) && hashesEqual(found.value.hash, hash) ? fromRecord(found.value) : Effect.succeed(undefined)
    )
  }

  const remember = (hash: string, key: ResolvedKey | undefined): void => {
    if (keyCacheTtlMs <= 0) return
    if (cache.size >= MAX_CACHED_KEYS) {
      // Maps iterate in insertion order, so this drops the oldest entry.
      const oldest = cache.keys().next()
      if (oldest.done !== true) cache.delete(oldest.value)
    }
    cache.set(hash, { key, expiresAtMs: now() + keyCacheTtlMs })
  }

  /**
   * Returns the cached lookup of a hash, without waiting: `{ key }` (the key
   * is undefined when no key has the hash), or undefined when nothing fresh
   * is cached.
   */
  const cached = (hash: string): { readonly key: ResolvedKey | undefined } | undefined => {
    const entry = cache.get(hash)
    return entry !== undefined && entry.expiresAtMs > now() ? entry : undefined
  }

  /** Resolves the SHA-256 hex of a key sent by a client; undefined when no key has that hash. */
  const resolve = (hash: string): Effect.Effect<ResolvedKey | undefined, SqlError> => {
    const entry = cached(hash)
    if (entry !== undefined) return Effect.succeed(entry.key)
    return Effect.tap(lookUp(hash), (key) => Effect.sync(() => remember(hash, key)))
  }

  /** Resolves a key by id, for the admin API: static keys by `static:<name>`, others from the table. */
  const resolveId = (id: string): Effect.Effect<ResolvedKey | undefined, SqlError> => {
    for (const entry of staticByHash.values()) if (staticKeyId(entry.name) === id) return fromStatic(entry)
    return Effect.flatMap(store.findKeyById(id), (found) => (Option.isSome(found) ? fromRecord(found.value) : Effect.succeed(undefined)))
  }

  return {
    cached,
    resolve,
    resolveId,
    isStaticId: (id: string) => [...staticByHash.values()].some((entry) => staticKeyId(entry.name) === id),
    /** Forgets every cached lookup, after an admin change on this instance. */
    invalidate: () => cache.clear(),
    cacheSize: () => cache.size
  }
}

export type KeyResolver = ReturnType<typeof makeKeyResolver>
