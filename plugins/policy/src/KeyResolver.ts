/**
 * Finding the key behind a request: the static keys from the YAML, then the
 * keys table, with the settings of the key's team.
 *
 * Looked-up keys, and hashes that matched no key, are cached in memory for
 * `keyCacheTtlMs`. An admin change on this instance clears the cache at
 * once; on other instances a revoked or changed key takes effect within
 * the TTL.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Redacted } from "effect"
import { hashesEqual, hashKey } from "./ApiKey.js"
import type { KeyRecord, KeyStore, TeamRecord } from "./KeyStore.js"
import type { BudgetLimit, RateLimits } from "./Limits.js"
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

export const staticKeyId = (name: string): string => `static:${name}`

export interface KeyResolverOptions {
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

  const teamOf = (team: string | null | undefined): Effect.Effect<Option.Option<TeamRecord>, SqlError> =>
    team === null || team === undefined ? Effect.succeed(Option.none()) : store.findTeam(team)

  const fromStatic = (entry: StaticKey) =>
    Effect.map(teamOf(entry.team), (team): ResolvedKey => ({
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
