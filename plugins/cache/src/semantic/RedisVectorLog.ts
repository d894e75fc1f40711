/**
 * Shares the semantic index between gateway instances through one Redis
 * stream. Each instance appends the vectors it indexes and reads the stream
 * from its start. Every instance then keeps every live vector in memory and
 * searches it without Redis. Only reading the matched response uses Redis.
 *
 * Stream entries have the fields `id` (the exact cache key), `p` (the
 * partition), `x` (the expiry in epoch milliseconds) and `v` (the vector
 * as base64 of little-endian float32 values). The turn's guard (see
 * `TurnGuard.ts`) adds `f` (the facts digest) and, for embedders that ignore
 * word order, `w` (the word hashes as base64 of little-endian uint32
 * values). Entries written before guards existed lack `f`, and are read
 * without a guard, so they are never served.
 *
 * A stream was chosen over pub/sub because a reader that was away (a
 * restart, a lost connection) resumes from the last entry id it read and
 * misses nothing that is still in the stream. Every append trims the stream
 * to `maxEntries`, oldest first, and renews the key's expiry to `maxTtl`, so
 * an unused stream disappears. The sweep also drops entries older than
 * `maxTtl`, which have expired whatever their own TTL.
 *
 * NOTE: new instances read the whole stream at startup in the background,
 * so until the read catches up, lookups only find what was read.
 */
import { Effect, Redacted, Runtime, Schema } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { makeRateLimitedWarning } from "../RateLimitedWarning.js"
import { closeClient, reconnectDelayMs, waitUntilReady } from "../RedisStore.js"
import type { TurnGuard } from "./TurnGuard.js"
import type { VectorEntry } from "./VectorIndex.js"

export interface RedisVectorLogOptions {
  readonly url: Redacted.Redacted<string>
  /** The stream's full key, the cache's key prefix included. */
  readonly streamKey: string
  readonly connectTimeoutMs: number
  /** Time allowed to one append or one page read, in milliseconds. */
  readonly commandTimeoutMs: number
  /** Pause between two reads that found nothing new, in milliseconds. */
  readonly pollIntervalMs: number
  /** Upper bound of the stream's length. */
  readonly maxEntries: number
  /** The longest TTL any entry can have, in milliseconds. */
  readonly maxTtlMs: number
  readonly warningIntervalMs?: number
}

export interface RedisVectorLogStats {
  readonly status: string
  readonly appended: number
  readonly received: number
  readonly appendFailures: number
  readonly readFailures: number
  /** Stream entries that were not valid vector entries, and were skipped. */
  readonly invalidEntries: number
}

/** An append to the stream that failed or timed out; the vector stays in the local index only. */
export class VectorLogError extends Schema.TaggedError<VectorLogError>()("VectorLogError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface RedisVectorLog {
  readonly append: (entry: VectorEntry) => Effect.Effect<void, VectorLogError>
  /** Removes stream entries older than `maxTtl`. */
  readonly trim: (now: number) => Effect.Effect<void>
  readonly stats: () => RedisVectorLogStats
}

/** Entries read per XREAD. */
const PAGE_SIZE = 500
/**
 * Entries handed to the index between two yields to other fibers. Adding a
 * vector to a partition of 100,000 took about 0.85 ms of CPU (see
 * `bench/README.md`), so 50 entries keep the event loop busy for at most
 * about 40 ms at a time while a new instance reads the stream.
 */
const ENTRIES_PER_YIELD = 50
const DEFAULT_WARNING_INTERVAL_MS = 10_000

/** Encodes a vector as base64 of little-endian float32 values. */
export const encodeVector = (vector: Float32Array): string => {
  const bytes = Buffer.alloc(vector.length * 4)
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4)
  return bytes.toString("base64")
}

/** Decodes {@link encodeVector}'s output; returns undefined for text that is not whole float32 values. */
export const decodeVector = (text: string): Float32Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined
  const vector = new Float32Array(bytes.length / 4)
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4)
  return vector
}

/** Encodes word hashes as base64 of little-endian uint32 values. */
const encodeWords = (words: Uint32Array): string => {
  const bytes = Buffer.alloc(words.length * 4)
  for (let i = 0; i < words.length; i++) bytes.writeUInt32LE(words[i]!, i * 4)
  return bytes.toString("base64")
}

/** Decodes {@link encodeWords}'s output; returns undefined for text that is not whole uint32 values. */
const decodeWords = (text: string): Uint32Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.length % 4 !== 0) return undefined
  const words = new Uint32Array(bytes.length / 4)
  for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(i * 4)
  return words
}

/** Returns the stream fields of a guard. */
const guardFields = (guard: TurnGuard | undefined): Array<string> => {
  if (guard === undefined) return []
  return guard.words === undefined ? ["f", guard.facts] : ["f", guard.facts, "w", encodeWords(guard.words)]
}

/** Reads the guard fields; returns undefined when `f` is missing, and "invalid" when `w` is malformed. */
const decodeGuard = (values: ReadonlyMap<string, string>): TurnGuard | undefined | "invalid" => {
  const facts = values.get("f")
  if (facts === undefined) return undefined
  const encodedWords = values.get("w")
  if (encodedWords === undefined) return { facts, words: undefined }
  const words = decodeWords(encodedWords)
  return words === undefined ? "invalid" : { facts, words }
}

/** Reads one stream entry's field list (`[name, value, name, value, ...]`) as a vector entry. */
const decodeFields = (fields: ReadonlyArray<string>): VectorEntry | undefined => {
  const values = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i]!, fields[i + 1]!)
  const id = values.get("id")
  const partition = values.get("p")
  const expiresAt = Number(values.get("x"))
  const vector = decodeVector(values.get("v") ?? "")
  const guard = decodeGuard(values)
  if (id === undefined || partition === undefined || !Number.isFinite(expiresAt) || vector === undefined || guard === "invalid") return undefined
  return { id, partition, expiresAt, vector, guard }
}

type StreamReply = Array<[key: string, entries: Array<[id: string, fields: Array<string>]>]> | null

/**
 * Opens the log in the current scope and starts reading the stream from its
 * start, handing each live entry to `receive`, the instance's own appends
 * included. Closing the scope stops the reader and quits the connection.
 */
export const makeRedisVectorLog = (
  options: RedisVectorLogOptions,
  receive: (entry: VectorEntry, now: number) => void
): Effect.Effect<RedisVectorLog, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    // Connection and read failures repeat on every poll while Redis is down, so they share one rate-limited warning.
    const warn = makeRateLimitedWarning(options.warningIntervalMs ?? DEFAULT_WARNING_INTERVAL_MS)
    const counters = { appended: 0, received: 0, appendFailures: 0, readFailures: 0, invalidEntries: 0 }

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis(Redacted.value(options.url), {
          connectTimeout: options.connectTimeoutMs,
          commandTimeout: options.commandTimeoutMs,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          retryStrategy: reconnectDelayMs
        })
        redis.on("error", (error: Error) => {
          runFork(
            warn("The semantic index's Redis connection failed; vectors are shared again once it reconnects.", {
              "cache.store": "redis",
              error: error.message
            })
          )
        })
        return redis
      }),
      (redis) => Effect.promise(() => closeClient(redis))
    )
    yield* Effect.promise(() => waitUntilReady(client, options.connectTimeoutMs))

    let lastId = "0-0"

    /** Reads one page after `lastId`; returns the number of entries read, or -1 when the read failed. */
    const readPage = Effect.gen(function* () {
      const reply = yield* Effect.tryPromise(
        () => client.xread("COUNT", PAGE_SIZE, "STREAMS", options.streamKey, lastId) as Promise<StreamReply>
      ).pipe(
        Effect.catchAll((error) => {
          counters.readFailures++
          return Effect.as(
            warn("Reading the semantic index's Redis stream failed; the reader retries.", {
              "cache.store": "redis",
              error: String(error.error)
            }),
            undefined
          )
        })
      )
      if (reply === undefined) return -1
      const entries = reply?.[0]?.[1] ?? []
      const now = Date.now()
      for (const [position, [id, fields]] of entries.entries()) {
        if (position > 0 && position % ENTRIES_PER_YIELD === 0) yield* Effect.yieldNow()
        lastId = id
        const entry = decodeFields(fields)
        if (entry === undefined) {
          counters.invalidEntries++
          continue
        }
        counters.received++
        if (entry.expiresAt > now) receive(entry, now)
      }
      return entries.length
    })

    const reader = Effect.gen(function* () {
      for (;;) {
        const read = yield* readPage
        if (read === PAGE_SIZE) yield* Effect.yieldNow()
        else yield* Effect.sleep(options.pollIntervalMs)
      }
    })
    yield* Effect.forkScoped(reader)

    const append = (entry: VectorEntry): Effect.Effect<void, VectorLogError> =>
      Effect.tryPromise({
        try: () =>
          client
            .multi()
            .xadd(
              options.streamKey,
              "MAXLEN",
              String(options.maxEntries),
              "*",
              "id",
              entry.id,
              "p",
              entry.partition,
              "x",
              String(entry.expiresAt),
              "v",
              encodeVector(entry.vector),
              ...guardFields(entry.guard)
            )
            .pexpire(options.streamKey, options.maxTtlMs)
            .exec(),
        catch: (error) =>
          new VectorLogError({ message: `Appending to the semantic index stream failed: ${error instanceof Error ? error.message : String(error)}`, cause: error })
      }).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            counters.appended++
          })
        ),
        Effect.tapError(() =>
          Effect.sync(() => {
            counters.appendFailures++
          })
        ),
        Effect.asVoid
      )

    const trim = (now: number): Effect.Effect<void> =>
      Effect.tryPromise(() => client.xtrim(options.streamKey, "MINID", "~", String(Math.max(0, now - options.maxTtlMs)))).pipe(
        Effect.catchAll((error) =>
          warn("Trimming the semantic index's Redis stream failed.", { "cache.store": "redis", error: String(error.error) })
        ),
        Effect.asVoid
      )

    return {
      append,
      trim,
      stats: () => ({ status: client.status, ...counters })
    } satisfies RedisVectorLog
  })
