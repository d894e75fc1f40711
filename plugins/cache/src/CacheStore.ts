/** The cache entry and the contract of the stores that keep entries. */
import type { Effect } from "effect"
import { Either, Schema } from "effect"

const UsageSchema = Schema.Struct({
  promptTokens: Schema.Number,
  completionTokens: Schema.Number,
  cachedInputTokens: Schema.Number,
  cacheWriteTokens: Schema.Number,
  cacheWrite1hTokens: Schema.optional(Schema.Number),
  reasoningTokens: Schema.Number
})

/** One stored response. */
export const CacheEntry = Schema.Struct({
  /** Time of storing, in epoch milliseconds; the `age` header is counted from it. */
  storedAt: Schema.Number,
  /** The response body as JSON text: a chat completion or an embeddings response. */
  body: Schema.String,
  /** The provider's usage for the original call, so that a hit can be priced as a saving. */
  usage: Schema.optional(UsageSchema)
})
export type CacheEntry = typeof CacheEntry.Type

/**
 * A lookup or a store that did not complete. The cache treats every one as a
 * miss. A store that timed out may still be applied when the store responds.
 * `circuit-open` means the store skipped the command without sending it.
 */
export class CacheStoreError extends Schema.TaggedError<CacheStoreError>()("CacheStoreError", {
  operation: Schema.Literal("get", "set"),
  reason: Schema.Literal("timeout", "unavailable", "failed", "invalid-entry", "circuit-open"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface CacheStore {
  /** A name for logs and stats: `memory` or `redis`. */
  readonly kind: "memory" | "redis"
  /** Returns the live entry stored under `key`, or undefined. */
  readonly get: (key: string) => Effect.Effect<CacheEntry | undefined, CacheStoreError>
  /**
   * Returns the live entry under `key` at time `nowMs` without waiting, for a
   * store that keeps its entries in the process. The hooks use it when it is
   * there, so that an exact hit runs no fiber, and they may keep what they
   * derive from an entry for as long as the store returns the same object.
   */
  readonly getNow?: (key: string, nowMs: number) => CacheEntry | undefined
  /** Stores `entry` under `key` for `ttlMs` milliseconds, replacing any entry there. */
  readonly set: (key: string, entry: CacheEntry, ttlMs: number) => Effect.Effect<void, CacheStoreError>
  /**
   * Stores as `set` does, at time `nowMs`, without waiting and without
   * failing, for a store that keeps its entries in the process. The hooks
   * use it when it is there, so that storing a miss runs no fiber.
   */
  readonly setNow?: (key: string, entry: CacheEntry, ttlMs: number, nowMs: number) => void
}

const decodeEntryJson = Schema.decodeUnknownEither(Schema.parseJson(CacheEntry))

/** Serializes an entry for a store that keeps text (Redis). */
export const encodeEntry = (entry: CacheEntry): string => JSON.stringify(entry)

/**
 * Parses an entry written by {@link encodeEntry}; fails with reason
 * `invalid-entry` on anything else. The error leaves out the parse details,
 * because they may quote the stored completion text.
 */
export const decodeEntry = (text: string): Either.Either<CacheEntry, CacheStoreError> =>
  Either.mapLeft(
    decodeEntryJson(text),
    () =>
      new CacheStoreError({
        operation: "get",
        reason: "invalid-entry",
        message: "The stored value is not valid JSON of a cache entry (storedAt, body, usage)."
      })
  )
