/** The `semantic` section of the cache plugin's configuration. */
import { Schema } from "effect"
import { TimerMillis } from "@fluxen/sdk"
import { Ttl } from "../CacheTtl.js"
import { DEFAULT_LEXICAL_DIMENSIONS } from "./LexicalEmbedder.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * NOTE: with the lexical embedder, 0.92 was kept after measuring the pairs in
 * `SemanticCache.test.ts`. Different questions that the guards of
 * `TurnGuard.ts` do not catch scored 0.81 to 0.85 there, and half of the
 * paraphrases scored below 0.92, so a higher threshold would only lose
 * paraphrases. The threshold does not make a hit mean the same question:
 * an antonym without a prefix ("good" and "bad") in an otherwise equal turn
 * can still score above it and is then served.
 */
export const DEFAULT_THRESHOLD = 0.92
export const DEFAULT_EMBED_TIMEOUT_MS = 1_000
export const DEFAULT_MAX_ENTRIES = 100_000
export const DEFAULT_POLL_INTERVAL_MS = 500
export const DEFAULT_MAX_TOKENS = 256
export const DEFAULT_ONNX_WORKERS = 2
export const DEFAULT_WORKER_NICENESS = 19
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000

export const LexicalEmbedderConfig = Schema.Struct({
  type: Schema.Literal("lexical"),
  /** Length of the hashed vectors. */
  dimensions: Schema.optionalWith(PositiveInt, { default: () => DEFAULT_LEXICAL_DIMENSIONS })
})

export const OnnxEmbedderConfig = Schema.Struct({
  type: Schema.Literal("onnx"),
  /**
   * A directory with `model.onnx` (or `onnx/model.onnx`) and `tokenizer.json`
   * of a BERT-style sentence-embedding model; relative to the configuration
   * file's directory.
   */
  modelDirectory: Schema.String.pipe(Schema.minLength(1)),
  /** Maximum input length in tokens, `[CLS]` and `[SEP]` included; longer user turns are cut. */
  maxTokens: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(3)), { default: () => DEFAULT_MAX_TOKENS }),
  /** Worker threads that run the model; each runs one inference at a time. */
  workers: Schema.optionalWith(PositiveInt, { default: () => DEFAULT_ONNX_WORKERS }),
  /** Threads onnxruntime may use inside one inference. */
  threadsPerWorker: Schema.optionalWith(PositiveInt, { default: () => 1 }),
  /**
   * The workers' nice value on Linux, 0 to 19. Above 0, inference yields the
   * CPU to the event loop when both want it, so proxy traffic keeps its
   * latency while embeddings wait. 0 gives both the same priority.
   */
  niceness: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 19)), { default: () => DEFAULT_WORKER_NICENESS })
})

export const ProviderEmbedderConfig = Schema.Struct({
  type: Schema.Literal("provider"),
  /** An OpenAI-compatible API base URL, normally this gateway's own, such as `http://127.0.0.1:8080/v1`. */
  baseUrl: Schema.String.pipe(Schema.pattern(/^https?:\/\//)),
  /** The embeddings model to request. */
  model: Schema.String.pipe(Schema.minLength(1)),
  /** Sent as a bearer token; needed when the gateway authenticates callers. */
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** Requested vector length, for models that accept `dimensions`. */
  dimensions: Schema.optional(PositiveInt),
  /** Maximum silence while waiting for the embeddings response. */
  timeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_PROVIDER_TIMEOUT_MS })
})

export const EmbedderConfig = Schema.Union(LexicalEmbedderConfig, OnnxEmbedderConfig, ProviderEmbedderConfig)
export type EmbedderConfig = typeof EmbedderConfig.Type

export const IndexConfig = Schema.Struct({
  /** `memory`: each instance indexes its own responses. `redis`: instances share vectors through a Redis stream (needs `store: redis`). */
  store: Schema.optionalWith(Schema.Literal("memory", "redis"), { default: () => "memory" as const }),
  /** Upper bound of the indexed vectors; the oldest go first. */
  maxEntries: Schema.optionalWith(PositiveInt, { default: () => DEFAULT_MAX_ENTRIES }),
  /** Lifetime of a vector; by default it lives as long as the response it points to, and never longer. */
  ttl: Schema.optional(Ttl),
  /** With `store: redis`, the pause between two reads of the shared stream that found nothing new. */
  pollInterval: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_POLL_INTERVAL_MS })
})
export type IndexConfig = typeof IndexConfig.Type

export const SemanticConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The lowest cosine similarity between two latest user turns that counts as a hit. */
  threshold: Schema.optionalWith(
    Schema.Number.pipe(Schema.filter((value) => (value > 0 && value <= 1) || "Expected a similarity above 0 and at most 1")),
    { default: () => DEFAULT_THRESHOLD }
  ),
  /**
   * Time allowed to embed a user turn, at lookup and when indexing the
   * response; a slower embedding leaves the request without the semantic
   * cache. Keep it below the plugin's hook `timeout`.
   */
  embedTimeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_EMBED_TIMEOUT_MS }),
  embedder: Schema.optionalWith(EmbedderConfig, {
    default: () => ({ type: "lexical" as const, dimensions: DEFAULT_LEXICAL_DIMENSIONS })
  }),
  index: Schema.optionalWith(IndexConfig, {
    default: () => ({ store: "memory" as const, maxEntries: DEFAULT_MAX_ENTRIES, pollInterval: DEFAULT_POLL_INTERVAL_MS })
  })
})
export type SemanticConfig = typeof SemanticConfig.Type
