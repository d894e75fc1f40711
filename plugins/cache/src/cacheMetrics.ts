/**
 * The cache's figures for the gateway's `GET /metrics`: lookups by result,
 * stores, store errors and skipped store operations, the state of the
 * memory store or the Redis connection, and the semantic cache's embeddings
 * and guard. The host adds the `plugin` label.
 */
import type { PluginMetric } from "@fluxen/sdk"
import type { CacheStats } from "./CacheHooks.js"
import type { MemoryStoreStats } from "./MemoryStore.js"
import type { RedisStoreStats } from "./RedisStore.js"
import type { SemanticStats } from "./semantic/SemanticCache.js"

export type StoreStats = { readonly kind: "memory"; readonly stats: MemoryStoreStats } | { readonly kind: "redis"; readonly stats: RedisStoreStats }

const counter = (name: string, help: string, samples: PluginMetric["samples"]): PluginMetric => ({ name, type: "counter", help, samples })
const gauge = (name: string, help: string, value: number): PluginMetric => ({ name, type: "gauge", help, samples: [{ value }] })

const storeMetrics = (store: StoreStats): ReadonlyArray<PluginMetric> =>
  store.kind === "memory"
    ? [
        gauge("fluxen_cache_memory_entries", "Entries in the memory store.", store.stats.entries),
        gauge("fluxen_cache_memory_bytes", "Bytes the memory store charges for its entries.", store.stats.bytes),
        counter("fluxen_cache_memory_evictions_total", "Entries the memory store removed to make room.", [{ value: store.stats.evictions }])
      ]
    : [
        gauge(
          "fluxen_cache_redis_up",
          "1 while the Redis connection is ready and its circuit breaker is closed, 0 otherwise.",
          store.stats.status === "ready" && store.stats.circuit === "closed" ? 1 : 0
        ),
        counter("fluxen_cache_redis_disconnects_total", "Times the Redis connection closed without the cache closing it.", [
          { value: store.stats.disconnects }
        ])
      ]

const semanticMetrics = (semantic: SemanticStats): ReadonlyArray<PluginMetric> => [
  counter("fluxen_cache_semantic_lookups_total", "Semantic lookups, by whether the best match reached the threshold.", [
    { labels: { result: "match" }, value: semantic.matches },
    { labels: { result: "no_match" }, value: semantic.lookups - semantic.matches }
  ]),
  counter(
    "fluxen_cache_semantic_guard_rejections_total",
    "Entries that reached the threshold but were not served, because their numbers, negations or word order differ from the request's.",
    [{ value: semantic.guardRejections }]
  ),
  counter("fluxen_cache_semantic_embedding_errors_total", "Embeddings that failed or timed out, by reason.", [
    { labels: { reason: "failed" }, value: semantic.embeddingFailures },
    { labels: { reason: "timeout" }, value: semantic.embeddingTimeouts }
  ]),
  counter("fluxen_cache_semantic_indexed_total", "Vectors added to the semantic index.", [{ value: semantic.indexed }])
]

export const cacheMetrics = (stats: CacheStats, store: StoreStats, semantic?: SemanticStats): ReadonlyArray<PluginMetric> => [
  counter("fluxen_cache_lookups_total", "Cache lookups by result; a bypass skipped the lookup or the store did not answer.", [
    { labels: { result: "hit" }, value: stats.hits },
    { labels: { result: "semantic_hit" }, value: stats.semanticHits },
    { labels: { result: "miss" }, value: stats.misses },
    { labels: { result: "bypass" }, value: stats.bypasses + stats.lookupFailures + stats.lookupsSkipped }
  ]),
  counter("fluxen_cache_stores_total", "Responses stored.", [{ value: stats.stores }]),
  counter(
    "fluxen_cache_store_errors_total",
    "Store operations that failed or timed out, by operation. A set that timed out may still have been applied later.",
    [
      { labels: { operation: "get" }, value: stats.lookupFailures },
      { labels: { operation: "set" }, value: stats.storeFailures }
    ]
  ),
  counter("fluxen_cache_store_skipped_total", "Store operations skipped without a call while the Redis circuit breaker was open, by operation.", [
    { labels: { operation: "get" }, value: stats.lookupsSkipped },
    { labels: { operation: "set" }, value: stats.storesSkipped }
  ]),
  counter("fluxen_cache_skipped_total", "Responses not stored or entries not served, by reason.", [
    { labels: { reason: "too_large" }, value: stats.tooLarge },
    { labels: { reason: "invalid_entry" }, value: stats.invalidEntries }
  ]),
  ...storeMetrics(store),
  ...(semantic === undefined ? [] : semanticMetrics(semantic))
]
