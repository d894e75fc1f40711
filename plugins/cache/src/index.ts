/**
 * The response cache plugin. It serves a chat completion or embeddings
 * request from a store, in memory or in Redis, when the same request (see
 * `cacheKey.ts`) succeeded before in the caller's namespace. With
 * `semantic.enabled`, it also serves a chat request whose latest user turn
 * is similar to one served before in the same conversation context (see
 * `semantic/SemanticCache.ts`).
 */
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer } from "effect"
import { CacheConfig } from "./CacheConfig.js"
import { checkCacheConfig } from "./checkCacheConfig.js"
import { makeCacheHooks } from "./CacheHooks.js"
import { cacheMetrics, type StoreStats } from "./cacheMetrics.js"
import { makeMemoryStore, type MemoryStore } from "./MemoryStore.js"
import { makeRedisStore, type RedisStore } from "./RedisStore.js"
import type { EmbeddingError } from "./semantic/Embedder.js"
import { startSemanticCache } from "./semantic/startSemanticCache.js"

export { CacheConfig, RedisConfig } from "./CacheConfig.js"
export { checkCacheConfig } from "./checkCacheConfig.js"
export { CACHE_STATUS_HEADER, makeCacheHooks, type CacheHooks, type CacheHooksOptions, type CacheStats } from "./CacheHooks.js"
export { NAMESPACE_HEADER, readCacheDirectives, TTL_HEADER, type CacheDirectives } from "./CacheDirectives.js"
export { cacheKeyOf, canonicalJson, IGNORED_REQUEST_FIELDS, type CacheKeyInput, type CachedEndpoint } from "./cacheKey.js"
export { CacheEntry, CacheStoreError, decodeEntry, encodeEntry, type CacheStore } from "./CacheStore.js"
export { makeMemoryStore, type MemoryStore, type MemoryStoreStats } from "./MemoryStore.js"
export { makeRedisStore, type RedisStore, type RedisStoreOptions, type RedisStoreStats } from "./RedisStore.js"
export { EmbeddingError, type Embedder } from "./semantic/Embedder.js"
export { HnswIndex, type HnswMatch, type HnswOptions } from "./semantic/Hnsw.js"
export { lexicalVector, makeLexicalEmbedder } from "./semantic/LexicalEmbedder.js"
export { makeOnnxEmbedder, type OnnxEmbedder, type OnnxEmbedderOptions } from "./semantic/OnnxEmbedder.js"
export { makeProviderEmbedder, type ProviderEmbedderOptions } from "./semantic/ProviderEmbedder.js"
export { SemanticConfig } from "./semantic/SemanticConfig.js"
export {
  makeSemanticCache,
  SIMILARITY_ATTRIBUTE,
  SIMILARITY_HEADER,
  type SemanticCache,
  type SemanticCacheOptions,
  type SemanticStats
} from "./semantic/SemanticCache.js"
export { VectorIndex, type VectorEntry, type VectorIndexOptions } from "./semantic/VectorIndex.js"
export { makeWordPieceTokenizer, type WordPieceTokenizer } from "./semantic/WordPieceTokenizer.js"

const makePlugin = (config: CacheConfig) =>
  Effect.gen(function* () {
    const host = yield* PluginHost
    const transport = yield* HttpTransport

    const store: MemoryStore | RedisStore =
      config.store === "redis" && config.redis !== undefined
        ? yield* makeRedisStore({
            url: config.redis.url,
            keyPrefix: config.redis.keyPrefix,
            connectTimeoutMs: config.redis.connectTimeout,
            commandTimeoutMs: config.redis.commandTimeout
          }).pipe(Effect.annotateLogs({ plugin: host.instanceName }))
        : makeMemoryStore({ maxBytes: config.memory.maxBytes })
    const storeStats = (): StoreStats =>
      store.kind === "redis" ? { kind: "redis", stats: (store as RedisStore).stats() } : { kind: "memory", stats: (store as MemoryStore).stats() }
    const semantic =
      config.semantic?.enabled === true
        ? yield* startSemanticCache({
            pluginName: host.instanceName,
            config: config.semantic,
            redis: config.redis,
            maxTtlMs: config.maxTtl,
            configDirectory: host.configDirectory,
            transport
          }).pipe(Effect.annotateLogs({ plugin: host.instanceName }))
        : undefined
    const cache = makeCacheHooks({
      pluginName: host.instanceName,
      store,
      ttlMs: config.ttl,
      maxTtlMs: config.maxTtl,
      namespace: config.namespace,
      maxEntryBytes: config.maxEntryBytes,
      semantic,
      clock: yield* Effect.clock
    })

    yield* Effect.logInfo("Cache started").pipe(
      Effect.annotateLogs({
        plugin: host.instanceName,
        "cache.store": store.kind,
        "cache.ttl_ms": config.ttl,
        "cache.max_ttl_ms": config.maxTtl,
        "cache.semantic": semantic !== undefined
      })
    )
    return { hooks: cache.hooks, metrics: () => cacheMetrics(cache.stats(), storeStats(), semantic?.stats()) }
  })

/**
 * The plugin's layer; its store, embedding workers and Redis connections
 * close with the layer's scope. It fails when the semantic embedder does not
 * load.
 */
export const cacheLayer = (config: CacheConfig): Layer.Layer<Plugin, EmbeddingError, PluginHost | HttpTransport> =>
  Layer.scoped(Plugin, makePlugin(config))

export default definePlugin({
  name: "@fluxen/cache",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: CacheConfig,
  checkConfig: checkCacheConfig,
  layer: cacheLayer
})
