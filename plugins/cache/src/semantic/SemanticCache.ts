/**
 * The semantic side of the cache: after an exact miss, a chat request is
 * served the stored response of an earlier request whose latest user turn is
 * similar enough, when everything else about the two requests is the same.
 *
 * "Everything else" is the partition: a digest of the namespace, the
 * provider and upstream model, the embedder, every keyed request field
 * (system prompt, tools, response format, sampling parameters and so on)
 * and every message before the latest user turn. Only the text of the
 * latest user turn is embedded, and only vectors of the same partition are
 * compared with it, so a similar question asked after a different earlier
 * turn is never served the other conversation's answer.
 *
 * The index stores vectors, the exact cache key of the response each
 * stands for, and the turn's guard (see `TurnGuard.ts`): a match must have
 * the same numbers and negation words as the turn, whatever its similarity.
 * A hit reads the response from the exact store, so a vector whose
 * response expired or was evicted finds nothing; it is then removed.
 */
import { createHash } from "node:crypto"
import type { ChatMessage, ChatRequest, RequestContext } from "@fluxen/sdk"
import { Clock, Effect } from "effect"
import { canonicalJson, keyedFields } from "../cacheKey.js"
import { makeRateLimitedWarning } from "../RateLimitedWarning.js"
import { EmbeddingError, type Embedder } from "./Embedder.js"
import type { RedisVectorLog } from "./RedisVectorLog.js"
import { guardOf, makeGuardCheck } from "./TurnGuard.js"
import type { VectorIndex, VectorMatch } from "./VectorIndex.js"

/** The response header that carries the similarity of a semantic hit, with four decimals. */
export const SIMILARITY_HEADER = "x-fluxen-cache-similarity"

/**
 * The request attribute that carries the similarity of a semantic hit, for
 * plugins that run after the cache. The usage record keeps it as `cacheSimilarity`.
 */
export const SIMILARITY_ATTRIBUTE = "fluxen.cache.similarity"

/** Bumped when the partition's input changes shape, so that older vectors are no longer compared. */
const PARTITION_FORMAT_VERSION = 1
const DEFAULT_WARNING_INTERVAL_MS = 10_000

export interface SemanticCacheOptions {
  readonly pluginName: string
  readonly embedder: Embedder
  readonly index: VectorIndex
  /** The shared stream, with `index.store: redis`. */
  readonly log: RedisVectorLog | undefined
  /** The lowest similarity that counts as a hit. */
  readonly threshold: number
  /**
   * Time allowed to embed a user turn, in milliseconds, both at lookup and
   * when indexing a response. It keeps the cache's hooks within the host's
   * hook timeout.
   */
  readonly embedTimeoutMs: number
  /** Upper bound of a vector's lifetime, in milliseconds; undefined lets it live as long as its response. */
  readonly indexTtlMs: number | undefined
  readonly warningIntervalMs?: number
}

/** The partition and text of a chat request, the input of a semantic lookup. */
export interface SemanticQuery {
  readonly partition: string
  /** The latest user turn's text. */
  readonly text: string
}

export interface SemanticLookup {
  /** The partition's best match, when its similarity is at least the threshold. */
  readonly match: VectorMatch | undefined
  /** The embedded user turn, kept for indexing the response; undefined when embedding failed or timed out. */
  readonly vector: Float32Array | undefined
}

export interface SemanticStats {
  readonly lookups: number
  /** Lookups whose best match reached the threshold. */
  readonly matches: number
  /** Entries that reached the threshold but were not served, because the turn's guard did not accept them. */
  readonly guardRejections: number
  /** Embeddings that failed; their requests went on without a semantic lookup or were not indexed. */
  readonly embeddingFailures: number
  /** Embeddings that took longer than `embedTimeout`. */
  readonly embeddingTimeouts: number
  /** Matches whose response was no longer in the store; their vectors were removed. */
  readonly staleMatches: number
  readonly indexed: number
  /** Vectors indexed locally that could not be appended to the shared stream. */
  readonly shareFailures: number
}

export interface SemanticCache {
  /** Returns the partition and text of a chat request, or undefined when it cannot be served semantically. */
  readonly queryOf: (context: RequestContext, namespace: string) => SemanticQuery | undefined
  /** Embeds the user turn and searches its partition; never fails. */
  readonly lookup: (query: SemanticQuery) => Effect.Effect<SemanticLookup>
  /**
   * Indexes a stored response under the vector of its user turn, embedding
   * it first when `vector` is undefined; never fails.
   */
  readonly remember: (query: SemanticQuery, vector: Float32Array | undefined, key: string, ttlMs: number) => Effect.Effect<void>
  /** Removes the vector of a response that is no longer stored. */
  readonly forget: (key: string) => void
  readonly stats: () => SemanticStats
}

/**
 * Returns the text of a user message: its string content, or its text parts
 * joined by newlines. Returns undefined when it has any other part (an
 * image, audio, a file), because the text alone would not describe the turn.
 */
export const userTurnText = (message: ChatMessage): string | undefined => {
  const content = message.content
  if (typeof content === "string") return content
  if (!Array.isArray(content) || content.length === 0) return undefined
  const texts: Array<string> = []
  for (const part of content as ReadonlyArray<{ readonly type?: unknown; readonly text?: unknown }>) {
    if (part.type !== "text" || typeof part.text !== "string") return undefined
    texts.push(part.text)
  }
  return texts.join("\n")
}

/** Computes the partition of a chat request whose latest message is a user turn: 64 lowercase hex digits. */
export const partitionOf = (input: {
  readonly namespace: string
  readonly provider: string
  readonly upstreamModel: string
  readonly embedderId: string
  readonly request: ChatRequest
}): string => {
  const messages = input.request.messages
  const { content: _content, ...latestTurn } = messages[messages.length - 1]!
  const keyed = {
    version: PARTITION_FORMAT_VERSION,
    namespace: input.namespace,
    provider: input.provider,
    upstreamModel: input.upstreamModel,
    embedder: input.embedderId,
    request: { ...keyedFields(input.request), messages: messages.slice(0, -1) },
    latestTurn
  }
  return createHash("sha256").update(canonicalJson(keyed)).digest("hex")
}

/** Makes the semantic cache of one plugin instance over an embedder and an index. */
export const makeSemanticCache = (options: SemanticCacheOptions): SemanticCache => {
  const { embedder, index } = options
  const warn = makeRateLimitedWarning(options.warningIntervalMs ?? DEFAULT_WARNING_INTERVAL_MS)
  const counters = { lookups: 0, matches: 0, guardRejections: 0, embeddingFailures: 0, embeddingTimeouts: 0, staleMatches: 0, indexed: 0, shareFailures: 0 }
  const annotations = { plugin: options.pluginName, "cache.embedder": embedder.kind }

  const withTimeout = <A>(embedding: Effect.Effect<A, EmbeddingError>): Effect.Effect<A, EmbeddingError> =>
    Effect.timeoutFail(embedding, {
      duration: options.embedTimeoutMs,
      onTimeout: () =>
        new EmbeddingError({ embedder: embedder.kind, reason: "timeout", message: `Embedding took longer than ${options.embedTimeoutMs} ms.` })
    })

  /**
   * Embeds one text, or returns undefined when embedding fails or takes longer than
   * `embedTimeoutMs`. A synchronous embedder gets no timeout, because one could not stop it.
   */
  const embedOne = (text: string): Effect.Effect<Float32Array | undefined> =>
    embedder.embed([text]).pipe(
      Effect.map((vectors) => vectors[0]),
      embedder.synchronous === true ? (embedding) => embedding : withTimeout,
      Effect.catchAll((error) => {
        if (error.reason === "timeout") counters.embeddingTimeouts++
        else counters.embeddingFailures++
        return Effect.as(
          warn("Embedding a user turn failed, so the request goes on without the semantic cache.", {
            ...annotations,
            "error.reason": error.reason,
            error: error.message
          }),
          undefined
        )
      })
    )

  const queryOf = (context: RequestContext, namespace: string): SemanticQuery | undefined => {
    if (context.endpoint !== "chat") return undefined
    const request = context.request as ChatRequest
    const latest = request.messages[request.messages.length - 1]
    if (latest === undefined || latest.role !== "user") return undefined
    const text = userTurnText(latest)
    if (text === undefined || text.trim() === "") return undefined
    const partition = partitionOf({
      namespace,
      provider: context.route.provider,
      upstreamModel: context.route.upstreamModel,
      embedderId: embedder.id,
      request
    })
    return { partition, text }
  }

  const lookup = (query: SemanticQuery): Effect.Effect<SemanticLookup> =>
    Effect.gen(function* () {
      counters.lookups++
      const vector = yield* embedOne(query.text)
      if (vector === undefined) return { match: undefined, vector }

      const now = yield* Clock.currentTimeMillis
      const passesGuard = makeGuardCheck(query.text, embedder.ignoresWordOrder === true)
      const best = index.search(
        query.partition,
        vector,
        now,
        (guard, similarity) => {
          if (passesGuard(guard)) return true
          if (similarity >= options.threshold) counters.guardRejections++
          return false
        },
        options.threshold
      )
      if (best === undefined || best.similarity < options.threshold) return { match: undefined, vector }
      counters.matches++
      return { match: best, vector }
    })

  const remember = (query: SemanticQuery, known: Float32Array | undefined, key: string, ttlMs: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      const vector = known ?? (yield* embedOne(query.text))
      if (vector === undefined) return

      const now = yield* Clock.currentTimeMillis
      const lifetime = options.indexTtlMs === undefined ? ttlMs : Math.min(ttlMs, options.indexTtlMs)
      const guard = guardOf(query.text, embedder.ignoresWordOrder === true)
      const entry = { id: key, partition: query.partition, vector, expiresAt: now + lifetime, guard }
      if (!index.add(entry)) return
      counters.indexed++
      if (options.log === undefined) return
      yield* options.log.append(entry).pipe(
        Effect.catchAll((error) => {
          counters.shareFailures++
          return warn("Sharing a vector through Redis failed; other instances will not find it.", { ...annotations, error: error.message })
        })
      )
    })

  const forget = (key: string): void => {
    if (index.remove(key)) counters.staleMatches++
  }

  return { queryOf, lookup, remember, forget, stats: () => ({ ...counters }) }
}
