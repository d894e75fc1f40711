/** The cache plugin's section of `fluxen.yaml`. */
import { Schema } from "effect"
import { ByteSize, TimerMillis } from "@fluxen/sdk"
import { Ttl } from "./CacheTtl.js"
import { SemanticConfig } from "./semantic/SemanticConfig.js"

export { ByteSize, DurationMillis } from "@fluxen/sdk"

export const DEFAULT_TTL_MS = 3_600_000
export const DEFAULT_MAX_TTL_MS = 86_400_000
export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1_048_576
export const DEFAULT_MAX_ENTRY_BYTES = 1_048_576
export const DEFAULT_REDIS_KEY_PREFIX = "fluxen:cache:"
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2_000
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 200

/** Characters allowed in a namespace, from the configuration or the `x-fluxen-cache-namespace` header. */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9._:@/-]{1,128}$/

export const RedisConfig = Schema.Struct({
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: Schema.Redacted(Schema.String.pipe(Schema.pattern(/^rediss?:\/\//))),
  /** Prepended to every key, so that several gateways can share one Redis. */
  keyPrefix: Schema.optionalWith(Schema.String, { default: () => DEFAULT_REDIS_KEY_PREFIX }),
  /** How long to wait for the connection at startup and on each reconnect. */
  connectTimeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_REDIS_CONNECT_TIMEOUT_MS }),
  /**
   * How long one lookup or store may take before the request goes on
   * uncached. Keep it short: it is added to a request's latency whenever
   * Redis stalls.
   */
  commandTimeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_REDIS_COMMAND_TIMEOUT_MS })
})
export type RedisConfig = typeof RedisConfig.Type

export const MemoryConfig = Schema.Struct({
  /** Upper bound of the stored entries' size; the least recently used entries are evicted past it. */
  maxBytes: Schema.optionalWith(ByteSize, { default: () => DEFAULT_MEMORY_MAX_BYTES })
})

export const CacheConfig = Schema.Struct({
  /** The store kind: `memory` (per process, lost on restart) or `redis` (shared, needs `redis`). */
  store: Schema.optionalWith(Schema.Literal("memory", "redis"), { default: () => "memory" as const }),
  redis: Schema.optional(RedisConfig),
  /** How long an entry is kept when the request sets no `x-fluxen-cache-ttl`. */
  ttl: Schema.optionalWith(Ttl, { default: () => DEFAULT_TTL_MS }),
  /** Upper bound of the TTL; a longer `x-fluxen-cache-ttl` is lowered to it. */
  maxTtl: Schema.optionalWith(Ttl, { default: () => DEFAULT_MAX_TTL_MS }),
  memory: Schema.optionalWith(MemoryConfig, { default: () => ({ maxBytes: DEFAULT_MEMORY_MAX_BYTES }) }),
  /**
   * A namespace shared by every caller. Without it, each team (or each API
   * key, for callers without a team) has a namespace of its own, so callers
   * never receive responses cached for another team.
   */
  namespace: Schema.optional(Schema.String.pipe(Schema.pattern(NAMESPACE_PATTERN))),
  /** Responses whose JSON is larger than this are not stored. */
  maxEntryBytes: Schema.optionalWith(ByteSize, { default: () => DEFAULT_MAX_ENTRY_BYTES }),
  /** The semantic cache of chat requests; off unless `enabled` is true. */
  semantic: Schema.optional(SemanticConfig)
}).pipe(
  Schema.filter((config) => {
    if (config.store === "redis" && config.redis === undefined) {
      return { path: ["redis"], message: "store is redis, but the redis section is missing; add redis.url" }
    }
    if (config.ttl > config.maxTtl) {
      return { path: ["ttl"], message: `ttl (${config.ttl} ms) must not exceed maxTtl (${config.maxTtl} ms)` }
    }
    if (config.semantic?.enabled === true && config.semantic.index.store === "redis" && config.store !== "redis") {
      // Other instances would find vectors whose responses only this instance's memory holds.
      return {
        path: ["semantic", "index", "store"],
        message: "semantic.index.store is redis, but store is memory; set store: redis so that shared vectors point to shared responses"
      }
    }
    return undefined
  })
)
export type CacheConfig = typeof CacheConfig.Type
