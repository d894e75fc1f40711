/**
 * Builds the semantic cache from the plugin's configuration: the embedder,
 * the in-memory index, the Redis stream that shares it, and the fiber that
 * removes expired vectors. All of them stop when the plugin's scope closes.
 */
import type { HttpTransportService } from "@fluxen/sdk"
import { Clock, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import type { RedisConfig } from "../CacheConfig.js"
import type { Embedder, EmbeddingError } from "./Embedder.js"
import { makeLexicalEmbedder } from "./LexicalEmbedder.js"
import { resolveModelDirectory } from "./modelFiles.js"
import { makeOnnxEmbedder } from "./OnnxEmbedder.js"
import { makeProviderEmbedder } from "./ProviderEmbedder.js"
import { makeRedisVectorLog, type RedisVectorLog } from "./RedisVectorLog.js"
import { makeSemanticCache, type SemanticCache } from "./SemanticCache.js"
import type { EmbedderConfig, SemanticConfig } from "./SemanticConfig.js"
import { VectorIndex } from "./VectorIndex.js"

export interface StartSemanticCacheOptions {
  readonly pluginName: string
  readonly config: SemanticConfig
  /** The cache's Redis settings; required when `config.index.store` is `redis`. */
  readonly redis: RedisConfig | undefined
  /** The cache's `maxTtl`, the longest any vector can live, in milliseconds. */
  readonly maxTtlMs: number
  /** The directory of the configuration file, against which a relative model directory is resolved. */
  readonly configDirectory: string
  readonly transport: HttpTransportService
}

/** The Redis stream of the shared index, under the cache's key prefix. */
export const VECTOR_STREAM_SUFFIX = "semantic:v1:vectors"

/** How often expired vectors are removed from memory and old entries from the stream. */
const SWEEP_INTERVAL = "30 seconds"

const makeEmbedder = (
  config: EmbedderConfig,
  options: StartSemanticCacheOptions
): Effect.Effect<Embedder, EmbeddingError, Scope.Scope> => {
  switch (config.type) {
    case "lexical":
      return Effect.succeed(makeLexicalEmbedder({ dimensions: config.dimensions }))
    case "onnx":
      return makeOnnxEmbedder({
        modelDirectory: resolveModelDirectory(options.configDirectory, config.modelDirectory),
        maxTokens: config.maxTokens,
        workers: config.workers,
        threadsPerWorker: config.threadsPerWorker,
        niceness: config.niceness
      })
    case "provider":
      return Effect.succeed(
        makeProviderEmbedder(options.transport, {
          baseUrl: config.baseUrl,
          model: config.model,
          apiKey: config.apiKey,
          dimensions: config.dimensions,
          timeoutMs: config.timeout
        })
      )
  }
}

/** Starts the semantic cache in the current scope; fails when the embedder does not load. */
export const startSemanticCache = (options: StartSemanticCacheOptions): Effect.Effect<SemanticCache, EmbeddingError, Scope.Scope> =>
  Effect.gen(function* () {
    const { config } = options
    const embedder = yield* makeEmbedder(config.embedder, options)
    const index = new VectorIndex({ maxEntries: config.index.maxEntries })

    let log: RedisVectorLog | undefined
    if (config.index.store === "redis" && options.redis !== undefined) {
      const redis = options.redis
      log = yield* makeRedisVectorLog(
        {
          url: redis.url,
          streamKey: `${redis.keyPrefix}${VECTOR_STREAM_SUFFIX}`,
          connectTimeoutMs: redis.connectTimeout,
          // Appends carry a vector of a few kilobytes and page reads up to 500 of them, so they get more time than a lookup.
          commandTimeoutMs: Math.max(redis.commandTimeout, 2_000),
          pollIntervalMs: config.index.pollInterval,
          maxEntries: config.index.maxEntries,
          maxTtlMs: options.maxTtlMs
        },
        (entry) => {
          if (!index.has(entry.id, entry.expiresAt)) index.add(entry)
        }
      )
    }

    const sweep = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      index.removeExpired(now)
      if (log !== undefined) yield* log.trim(now)
    })
    yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(SWEEP_INTERVAL)))

    yield* Effect.logInfo("Semantic cache started").pipe(
      Effect.annotateLogs({
        plugin: options.pluginName,
        "cache.embedder": embedder.id,
        "cache.semantic_threshold": config.threshold,
        "cache.semantic_index": config.index.store
      })
    )
    return makeSemanticCache({
      pluginName: options.pluginName,
      embedder,
      index,
      log,
      threshold: config.threshold,
      embedTimeoutMs: config.embedTimeout,
      indexTtlMs: config.index.ttl
    })
  })

