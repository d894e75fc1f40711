/**
 * The cache's request hooks. `beforeRequest` looks the request up and, on a
 * hit, responds from the store. `afterResponse` stores a complete,
 * successful upstream response.
 *
 * Only chat completions and embeddings are cached. Legacy completions, the
 * Responses API and Anthropic's Messages API pass through untouched, because
 * the gateway cannot tell from their streams when a response is complete.
 *
 * A stored chat completion serves both kinds of request: as JSON, or
 * replayed as a stream with {@link chatCompletionToEventList}. A store
 * failure never fails the request: the lookup counts as a miss, the store
 * is skipped, and both are counted and logged.
 *
 * With a {@link SemanticCache}, a chat request that misses the exact lookup
 * is looked up once more by the similarity of its latest user turn (see
 * `semantic/SemanticCache.ts`), and a stored chat response is also indexed
 * by that turn's vector.
 *
 * The plugin must come after the plugins that authenticate the caller
 * (the namespace depends on the caller) and after the analyzer in
 * `plugins:`. A hook's response ends the `beforeRequest` chain, so the
 * `afterResponse` hooks of the plugins listed after the cache do not run on a
 * hit, and the analyzer could not record the saving.
 */
import {
  chatCompletionToEventList,
  LazyJsonResult,
  streamEventList,
  type ChatCompletion,
  type HookDecision,
  type InvalidRequestError,
  type Outcome,
  type ProviderResult,
  type RecordFields,
  type RequestContext,
  type RequestHooks
} from "@fluxen/sdk"
import { Clock, Effect, Either } from "effect"
import { readCacheDirectives } from "./CacheDirectives.js"
import { cacheKeyOf, type CachedEndpoint } from "./cacheKey.js"
import type { CacheEntry, CacheStore, CacheStoreError } from "./CacheStore.js"
import { makeRateLimitedWarning } from "./RateLimitedWarning.js"
import { ReplayMemo } from "./ReplayMemo.js"
import { SIMILARITY_ATTRIBUTE, SIMILARITY_HEADER, type SemanticCache, type SemanticQuery } from "./semantic/SemanticCache.js"

/** The response header that reports the cache status (`hit`, `semantic-hit`, `miss` or `bypass`) to the client. */
export const CACHE_STATUS_HEADER = "x-fluxen-cache"

export interface CacheHooksOptions {
  /** The plugin instance name, for log annotations and the attribute key. */
  readonly pluginName: string
  readonly store: CacheStore
  /** TTL of an entry when the request sets none, in milliseconds. */
  readonly ttlMs: number
  /** Upper bound of any TTL, in milliseconds. */
  readonly maxTtlMs: number
  /** A namespace shared by all callers, replacing the per-caller scope. */
  readonly namespace: string | undefined
  /** Responses whose JSON is longer than this, in bytes, are not stored. */
  readonly maxEntryBytes: number
  /** Minimum time between two logged store failures, in milliseconds. */
  readonly warningIntervalMs?: number
  /** Looks up chat requests by the similarity of their latest user turn after an exact miss. */
  readonly semantic?: SemanticCache
  /** The clock for `age` headers, store times and expiry checks. The system clock by default. */
  readonly clock?: Clock.Clock
  /** Memory for the replayed events of memory-store entries (see `ReplayMemo`), in bytes. 16 MiB by default. */
  readonly replayMemoBytes?: number
}

/** Counters since the plugin started. */
export interface CacheStats {
  /** Exact hits. */
  readonly hits: number
  /** Responses served by the similarity of the latest user turn. */
  readonly semanticHits: number
  readonly misses: number
  /** Requests whose lookup was skipped by `cache-control: no-cache` or `no-store`. */
  readonly bypasses: number
  readonly stores: number
  /** Complete responses not stored because they exceeded `maxEntryBytes`. */
  readonly tooLarge: number
  /** Lookups that failed. Each was served as a bypass. */
  readonly lookupFailures: number
  /** Lookups the store skipped without calling Redis, because its circuit breaker was open. Each was served as a bypass. */
  readonly lookupsSkipped: number
  /** Entries found whose body is not a complete response; each was served as a miss and is replaced by the next store. */
  readonly invalidEntries: number
  /** Stores that failed or timed out. A store that timed out may still have been applied later. */
  readonly storeFailures: number
  /** Stores skipped without calling Redis, because the store's circuit breaker was open. */
  readonly storesSkipped: number
}

export interface CacheHooks {
  readonly hooks: RequestHooks
  readonly stats: () => CacheStats
}

/** The key and TTL that `beforeRequest` leaves for `afterResponse` when the response may be stored. */
interface PendingStore {
  readonly key: string
  /** The deployment the key names, `provider/upstream model`. */
  readonly deployment: string
  readonly ttlMs: number
  /** Set when the response is to be indexed semantically too. */
  readonly semantic: { readonly query: SemanticQuery; vector: Float32Array | undefined } | undefined
}

const DEFAULT_WARNING_INTERVAL_MS = 10_000
const DEFAULT_REPLAY_MEMO_BYTES = 16 * 1024 * 1024

const cachedEndpoints: ReadonlySet<string> = new Set<CachedEndpoint>(["chat", "embeddings"])

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Returns the default namespace: the caller's team, else its API key, else one shared by unauthenticated callers. */
const callerScope = (context: RequestContext): string => {
  if (context.caller.team !== null) return `team:${context.caller.team}`
  if (context.caller.keyId !== null) return `key:${context.caller.keyId}`
  return "global"
}

/**
 * Returns true when a response is complete enough to serve again: every
 * chat choice has a finish reason, or the embeddings response has its data.
 */
const isCompleteResponse = (endpoint: CachedEndpoint, response: unknown): boolean => {
  if (!isRecord(response)) return false
  if (endpoint === "embeddings") return Array.isArray(response.data)
  const choices = response.choices
  if (!Array.isArray(choices) || choices.length === 0) return false
  return choices.every((choice) => isRecord(choice) && typeof choice.finish_reason === "string")
}

/**
 * Returns true when the host's stream assembler would drop a part of the
 * response that this request sets a field for. The assembler keeps text,
 * refusals, tool calls, finish reasons and usage, but not logprobs, audio or
 * legacy `function_call` deltas. Such a streamed response is not stored,
 * because a later hit would lack those parts.
 *
 * NOTE: the assembler also drops other extra delta fields, such as the
 * `annotations` of search models. No request field requests them, so they
 * cannot be detected here.
 */
const assemblyDropsRequestedParts = (request: Readonly<Record<string, unknown>>): boolean =>
  request.logprobs === true ||
  typeof request.top_logprobs === "number" ||
  request.audio !== undefined && request.audio !== null ||
  Array.isArray(request.modalities) && request.modalities.includes("audio") ||
  request.functions !== undefined

const deploymentOf = (context: RequestContext): string => `${context.route.provider}/${context.route.upstreamModel}`

const setStatus = (context: RequestContext, status: NonNullable<RecordFields["cacheStatus"]>) => {
  context.record.cacheStatus = status
  context.responseHeaders[CACHE_STATUS_HEADER] = status
}

/** Makes the hooks of one plugin instance. */
export const makeCacheHooks = (options: CacheHooksOptions): CacheHooks => {
  const { store } = options
  const clock = options.clock ?? Clock.make()
  const currentTime = Effect.sync(() => clock.unsafeCurrentTimeMillis())
  const attributeKey = `@fluxen/cache/${options.pluginName}/pending`
  const warn = makeRateLimitedWarning(options.warningIntervalMs ?? DEFAULT_WARNING_INTERVAL_MS)
  const counters = { hits: 0, semanticHits: 0, misses: 0, bypasses: 0, stores: 0, tooLarge: 0, lookupFailures: 0, lookupsSkipped: 0, invalidEntries: 0, storeFailures: 0, storesSkipped: 0 }

  // Annotations wrap the effects that log, not a whole hook, because
  // annotating costs more than an exact hit's own work.
  const annotate = (context: RequestContext) =>
    Effect.annotateLogs({ plugin: options.pluginName, "request.id": context.requestId, "cache.store": store.kind })

  const failureMessage = (error: CacheStoreError): string => {
    if (error.operation === "get") return "The cache lookup failed, so the request goes on uncached."
    return error.reason === "timeout"
      ? "Storing the response in the cache timed out, but Redis may still store it when it responds."
      : "Storing the response in the cache failed."
  }

  // A skipped command is not logged here, because the store logs when its circuit breaker opens and closes.
  const logFailure = (context: RequestContext, error: CacheStoreError) =>
    error.reason === "circuit-open"
      ? Effect.void
      : warn(failureMessage(error), { "error.reason": error.reason, error: error.message }).pipe(annotate(context))

  /** Returns the entry under `key`, undefined when there is none, or "failed" when the store did not answer. */
  const lookUp = (context: RequestContext, key: string): Effect.Effect<CacheEntry | undefined | "failed"> =>
    store.get(key).pipe(
      Effect.catchAll((error) => {
        if (error.reason === "circuit-open") counters.lookupsSkipped++
        else counters.lookupFailures++
        return Effect.as(logFailure(context, error), "failed" as const)
      })
    )

  /**
   * Whether each entry the memory store returned contains a complete response.
   * The store returns the same object on every hit, so a body is parsed and
   * checked once, not on each hit. Only the verdict is kept: a copy of the
   * body would use memory that the store's `maxBytes` does not count.
   */
  const checkedEntries = new WeakMap<CacheEntry, boolean>()
  const replays = new ReplayMemo(options.replayMemoBytes ?? DEFAULT_REPLAY_MEMO_BYTES)

  /** Parses a stored body, or returns undefined when it is not a complete response. */
  const parseComplete = (endpoint: string, entry: CacheEntry): unknown => {
    let body: unknown
    try {
      body = JSON.parse(entry.body)
    } catch {
      return undefined
    }
    return isCompleteResponse(endpoint as CachedEndpoint, body) ? body : undefined
  }

  /** Builds the response to a hit, or returns undefined when the stored body is not a complete response. */
  const responseFrom = (context: RequestContext, entry: CacheEntry, memoized: boolean): ProviderResult | undefined => {
    const complete = memoized ? checkedEntries.get(entry) : undefined
    if (complete === false) return undefined
    // Parsed here when it was not checked before, and for a stream, whose events are built from it.
    let body = complete === undefined || context.stream ? parseComplete(context.endpoint, entry) : undefined
    if (complete === undefined) {
      if (memoized) checkedEntries.set(entry, body !== undefined)
      if (body === undefined) return undefined
    }

    if (context.stream) {
      // The usage event is always sent: the runtime records its usage and
      // drops it for clients that did not request usage.
      let events = memoized ? replays.get(entry) : undefined
      if (events === undefined) {
        events = chatCompletionToEventList(body as ChatCompletion, { includeUsage: true, usage: entry.usage })
        if (memoized) replays.set(entry, events)
      }
      // The completion goes along, so that the host need not assemble the replayed events again.
      return { _tag: "Stream", status: 200, headers: {}, events: streamEventList(events), completion: body }
    }
    // Each request gets its own copy of the body, parsed when a hook first reads it.
    const bytes = Buffer.from(entry.body, "utf8")
    if (body !== undefined) return { _tag: "Json", status: 200, headers: {}, body, bytes, usage: entry.usage }
    return new LazyJsonResult(200, {}, bytes, entry.usage, () => JSON.parse(entry.body))
  }

  type Hit = { readonly result: ProviderResult; readonly age: string }

  /** Builds the hit of a found entry, or counts and returns "invalid" when the stored body is not a complete response. */
  const serveEntry = (context: RequestContext, entry: CacheEntry, now: number, memoized: boolean): Hit | "invalid" => {
    const result = responseFrom(context, entry, memoized)
    if (result === undefined) {
      counters.invalidEntries++
      return "invalid"
    }
    return { result, age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1_000))) }
  }

  const warnInvalid = (context: RequestContext, key: string) =>
    warn("A cache entry does not contain a complete response, so it is ignored.", { "cache.key": key }).pipe(annotate(context))

  const beforeRequest = (context: RequestContext): Effect.Effect<HookDecision, InvalidRequestError> => {
    if (!cachedEndpoints.has(context.endpoint)) return Effect.succeed(undefined)
    const directives = readCacheDirectives(context.headers)
    if (Either.isLeft(directives)) return Effect.fail(directives.left)
    const { lookup, store: mayStore, ttlMs, namespace } = directives.right

    if (!mayStore) {
      counters.bypasses++
      setStatus(context, "bypass")
      return Effect.succeed(undefined)
    }

    const scope = options.namespace ?? callerScope(context)
    const fullNamespace = namespace === undefined ? scope : `${scope}/${namespace}`
    const key = cacheKeyOf({
      namespace: fullNamespace,
      endpoint: context.endpoint as CachedEndpoint,
      provider: context.route.provider,
      upstreamModel: context.route.upstreamModel,
      request: context.request
    })
    const query = options.semantic?.queryOf(context, fullNamespace)
    const pending: PendingStore = {
      key,
      deployment: deploymentOf(context),
      ttlMs: Math.min(ttlMs ?? options.ttlMs, options.maxTtlMs),
      semantic: query === undefined ? undefined : { query, vector: undefined }
    }
    context.attributes.set(attributeKey, pending)

    if (!lookup) {
      counters.bypasses++
      setStatus(context, "bypass")
      return Effect.succeed(undefined)
    }

    const miss = (): HookDecision => {
      counters.misses++
      setStatus(context, "miss")
      return undefined
    }
    const lookupFailed = (): HookDecision => {
      setStatus(context, "bypass")
      return undefined
    }
    const hit = (exact: Hit): HookDecision => {
      counters.hits++
      setStatus(context, "hit")
      context.responseHeaders["age"] = exact.age
      return { respond: exact.result }
    }
    const afterExactMiss = (): Effect.Effect<HookDecision> => {
      if (pending.semantic === undefined) return Effect.succeed(miss())
      return Effect.map(serveSimilar(context, pending.semantic).pipe(annotate(context)), (similar) => {
        if (similar === undefined) return miss()
        counters.semanticHits++
        setStatus(context, "semantic-hit")
        context.responseHeaders["age"] = similar.age
        return { respond: similar.result }
      })
    }

    // A store in the process needs no wait: a hit or a plain miss is then an `Exit`, which the host
    // reads without a fiber. The lookup therefore happens when `beforeRequest` is called, as the host does
    // right before running its effect.
    if (store.getNow !== undefined) {
      const now = clock.unsafeCurrentTimeMillis()
      const entry = store.getNow(key, now)
      const exact = entry === undefined ? undefined : serveEntry(context, entry, now, true)
      if (typeof exact === "object") return Effect.succeed(hit(exact))
      return exact === "invalid" ? Effect.zipRight(warnInvalid(context, key), Effect.suspend(afterExactMiss)) : afterExactMiss()
    }
    return Effect.flatMap(serveStored(context, key), (exact) => {
      if (typeof exact === "object") return Effect.succeed(hit(exact))
      // A failed lookup leaves the request uncached, so the client sees a bypass, not a miss
      // that the next request could hit. The semantic index leads to the same store, so it is skipped.
      if (exact === "failed") return Effect.succeed(lookupFailed())
      return afterExactMiss()
    })
  }

  /**
   * Reads the entry under `key` and builds the response to it with its `age`
   * header value. Returns "absent" when there is no complete entry, and
   * "failed" when the store did not answer.
   */
  type Served = Hit | "absent" | "failed"
  const serveStored = (context: RequestContext, key: string): Effect.Effect<Served> =>
    Effect.flatMap(lookUp(context, key), (entry): Effect.Effect<Served> => {
      if (entry === "failed") return Effect.succeed(entry)
      if (entry === undefined) return Effect.succeed("absent" as const)
      const served = serveEntry(context, entry, clock.unsafeCurrentTimeMillis(), store.getNow !== undefined)
      return served === "invalid" ? Effect.as(warnInvalid(context, key), "absent" as const) : Effect.succeed(served)
    })

  /**
   * Looks the latest user turn up in the semantic index and serves the
   * response its best match stands for. The turn's vector is kept in
   * `pending` for indexing the upstream's response on a miss.
   */
  const serveSimilar = (context: RequestContext, pending: NonNullable<PendingStore["semantic"]>) =>
    Effect.gen(function* () {
      const semantic = options.semantic!
      const found = yield* semantic.lookup(pending.query)
      pending.vector = found.vector
      if (found.match === undefined) return undefined

      const served = yield* serveStored(context, found.match.id)
      if (typeof served !== "object") {
        // A store that did not answer says nothing about the entry, so its vector stays.
        if (served === "absent") semantic.forget(found.match.id)
        return undefined
      }
      const similarity = Math.min(1, found.match.similarity)
      context.responseHeaders[SIMILARITY_HEADER] = similarity.toFixed(4)
      context.attributes.set(SIMILARITY_ATTRIBUTE, similarity)
      context.record.cacheSimilarity = similarity
      return served
    })

  const afterResponse = (context: RequestContext, outcome: Outcome): Effect.Effect<void> => {
    const pending = context.attributes.get(attributeKey) as PendingStore | undefined
    if (pending === undefined) return Effect.void
    if (outcome.status !== "ok" || outcome.httpStatus !== 200 || outcome.answeredByHook) return Effect.void
    // A fallback, or a routing rule listed after the cache, moved the request to another
    // deployment, whose response must not be served later under the first deployment's key.
    if (deploymentOf(context) !== pending.deployment) return Effect.void
    // A streamed chat arrives here assembled only when every choice finished.
    if (!isCompleteResponse(context.endpoint as CachedEndpoint, outcome.response)) return Effect.void
    if (context.stream && assemblyDropsRequestedParts(context.request as Readonly<Record<string, unknown>>)) return Effect.void

    const body = JSON.stringify(outcome.response)
    if (body.length > options.maxEntryBytes || Buffer.byteLength(body, "utf8") > options.maxEntryBytes) {
      counters.tooLarge++
      return Effect.void
    }

    const entryAt = (storedAt: number): CacheEntry =>
      outcome.usage === undefined ? { storedAt, body } : { storedAt, body, usage: outcome.usage }
    const stored = (): Effect.Effect<void> => {
      counters.stores++
      const semantic = pending.semantic
      if (semantic === undefined || options.semantic === undefined) return Effect.void
      return options.semantic.remember(semantic.query, semantic.vector, pending.key, pending.ttlMs).pipe(annotate(context))
    }

    // A store in the process takes the entry at once, so a plain miss ends without a fiber.
    if (store.setNow !== undefined) {
      const now = clock.unsafeCurrentTimeMillis()
      store.setNow(pending.key, entryAt(now), pending.ttlMs, now)
      return stored()
    }
    return Effect.flatMap(currentTime, (storedAt) =>
      store.set(pending.key, entryAt(storedAt), pending.ttlMs).pipe(
        Effect.matchEffect({
          onFailure: (error) => {
            if (error.reason === "circuit-open") counters.storesSkipped++
            else counters.storeFailures++
            return logFailure(context, error)
          },
          onSuccess: () => Effect.suspend(stored)
        })
      )
    )
  }

  return {
    hooks: { beforeRequest, afterResponse, needsAssembledStream: true },
    stats: () => ({ ...counters })
  }
}
