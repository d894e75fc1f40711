/**
 * Request hooks: plugin code that runs around every provider call, and on
 * the model list.
 *
 * Ordering contract: `beforeRequest` hooks run in the order the plugins are
 * listed in the configuration; `afterResponse` hooks run in the reverse
 * order, and only for plugins whose `beforeRequest` ran (or that have
 * none). `listModels` hooks run in configuration order, each on the list
 * the previous one returned. The host applies each plugin's timeout and
 * fail mode: with `open`, a failing hook is logged and skipped; with
 * `closed`, it fails the request.
 */
import type { Effect } from "effect"
import type { ChatRequest, CompletionRequest, CountTokensRequest, EmbeddingsRequest, MessagesRequest, ResponsesRequest } from "./ChatRequest.js"
import type { GatewayError } from "./Errors.js"
import type { ProviderResult, RequestHeaders } from "./Provider.js"
import type { Usage } from "./Usage.js"

/**
 * The API a request came in on. `count_tokens` is Anthropic's token counting
 * route. It has no output and Fluxen does not bill it, so hooks that charge
 * or cap output should let it pass.
 */
export type Endpoint = "chat" | "completions" | "embeddings" | "responses" | "messages" | "count_tokens"

export type CanonicalRequest = ChatRequest | CompletionRequest | EmbeddingsRequest | ResponsesRequest | MessagesRequest | CountTokensRequest

/** Where a request is going after model mapping. */
export interface Route {
  /** The model name the client sent. */
  readonly requestedModel: string
  /** The configured provider instance name (the key under `providers:`). */
  readonly provider: string
  /** The model name sent upstream. */
  readonly upstreamModel: string
}

/** Who is calling. Filled by an authentication hook; both ids are null without one. */
export interface Caller {
  keyId: string | null
  team: string | null
  readonly metadata: Record<string, string>
}

/**
 * Facts about the request that end up in its usage record. Plugins write
 * them; the host records them when the request ends.
 */
export interface RecordFields {
  /** Prompt tokens counted before the call; an estimate, not the provider's figure. */
  promptTokensEstimate?: number
  /** Cost in USD; null when the model has no price, which is never recorded as 0. */
  costUsd?: number | null
  priceVersion?: string | null
  cacheStatus?: "hit" | "miss" | "semantic-hit" | "bypass"
  costSavedUsd?: number | null
  /** Cosine similarity behind a semantic cache hit. */
  cacheSimilarity?: number
  /**
   * Usage the host records when the provider reported none, or, for a request
   * that did not end `ok`, in place of the provider's partial counts (a
   * stream stopped before its final usage).
   */
  estimatedUsage?: Usage
}

export interface RequestContext {
  readonly requestId: string
  readonly endpoint: Endpoint
  readonly stream: boolean
  /** When the request arrived, in epoch milliseconds. */
  readonly startedAt: number
  readonly headers: RequestHeaders
  /**
   * The canonical body. A `beforeRequest` hook may replace it. A changed
   * `model` routes the request to that model before the next hook runs, so
   * later hooks see the new `route`.
   */
  request: CanonicalRequest
  /** The first deployment the router picked; replaced when a retry or fallback served the request. */
  route: Route
  readonly caller: Caller
  readonly record: RecordFields
  /** Headers added to the client's response. */
  readonly responseHeaders: Record<string, string>
  /** Free-form values that plugins pass to each other, keyed by a namespaced string. */
  readonly attributes: Map<string, unknown>
}

export interface Outcome {
  readonly status: "ok" | "error" | "cancelled"
  readonly httpStatus: number
  /** The provider's usage, or undefined when it reported none (a cancelled stream, an error). */
  readonly usage: Usage | undefined
  readonly error: GatewayError | undefined
  /**
   * The JSON body, or for a completed stream the chat completion. That is the
   * stream's own `completion` when it had one, else the events assembled
   * when a hook requested it. A JSON body may be parsed when this is first
   * read (see `JsonResult.body`).
   */
  readonly response: unknown
  /**
   * Text generated so far on streamed chat, completions and messages, for counting tokens when usage
   * is missing or partial. It includes thinking text and tool call arguments.
   */
  readonly streamedText: string
  /** True when a `beforeRequest` hook answered and no provider was called. */
  readonly answeredByHook: boolean
  /**
   * True when the last upstream call got a response with a success status and the provider's
   * adapter returned it: a JSON body arrived or a stream started. False when no provider was
   * called, every call failed (an error status, a timeout, a refused connection), or the
   * client left before that. Fluxen then takes it that no provider billed the request,
   * which is the usual practice but no provider's promise. Optional so that outcomes built
   * without it stay valid. Fluxen's host always sets it.
   */
  readonly upstreamResponded?: boolean
  /**
   * The model that the response names, such as `gpt-4o-mini-2024-07-18` for a request to
   * `gpt-4o-mini`. Fluxen reads it only from payloads that are parsed anyway, so that relaying
   * stays free of extra JSON parsing. It is undefined for a JSON body that is still unparsed
   * when this is read, such as an OpenAI-compatible chat completion that no hook read. It is
   * also undefined for a stream whose parsed events name no model, such as an
   * OpenAI-compatible chat stream without a usage chunk. Optional so that outcomes built
   * without it stay valid.
   */
  readonly responseModel?: string | undefined
}

/** A model in the `GET /v1/models` list: its public name and the provider of its first deployment. */
export interface ListedModel {
  readonly id: string
  readonly provider: string
}

/** What a `beforeRequest` hook decides: go on (possibly after changing `context.request`), or answer now. */
export type HookDecision = undefined | { readonly respond: ProviderResult }

/** The usage and cost of a finished request, as it is recorded. */
export interface RecordedUsage {
  readonly status: Outcome["status"]
  readonly httpStatus: number
  /** The provider's usage, or Fluxen's estimate when `estimated` is true; undefined when neither exists. */
  readonly usage: Usage | undefined
  readonly estimated: boolean
  /** Null when the model has no price. */
  readonly costUsd: number | null
}

export interface RequestHooks {
  readonly beforeRequest?: (context: RequestContext) => Effect.Effect<HookDecision, GatewayError>
  readonly afterResponse?: (context: RequestContext, outcome: Outcome) => Effect.Effect<void, GatewayError>
  /**
   * Runs after every `afterResponse` hook, with the usage and cost about to
   * be recorded (a budget settles its reservation here, once the analyzer
   * has priced the request). Runs in configuration order, for the same
   * plugins as `afterResponse`.
   */
  readonly afterUsage?: (context: RequestContext, recorded: RecordedUsage) => Effect.Effect<void, GatewayError>
  /**
   * Runs for `GET /v1/models` with the client's headers and the models listed
   * so far, and returns the models this caller may see, normally a subset.
   * A gateway error (a 401 for a missing key) becomes the route's response.
   * A faulty hook under fail mode `open` leaves the list unchanged.
   */
  readonly listModels?: (headers: RequestHeaders, models: ReadonlyArray<ListedModel>) => Effect.Effect<ReadonlyArray<ListedModel>, GatewayError>
  /** Set when `afterResponse` needs a stream assembled into one chat completion (a cache does). */
  readonly needsAssembledStream?: boolean
}
