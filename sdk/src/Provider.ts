/**
 * The provider adapter contract: how a plugin turns canonical requests into
 * calls to one upstream API and its answers back into canonical results.
 * The host owns retries, timeouts, usage recording and error mapping, so an
 * adapter only translates and reports usage.
 */
import type { Effect } from "effect"
import type { ChatRequest, CompletionRequest, CountTokensRequest, EmbeddingsRequest, MessagesRequest, ResponsesRequest } from "./ChatRequest.js"
import type { ProviderError } from "./Errors.js"
import type { SseEvent } from "./Sse.js"
import type { Usage } from "./Usage.js"

/** Read access to the client's request headers; names are case-insensitive. */
export interface RequestHeaders {
  readonly get: (name: string) => string | undefined
}

export interface CallContext {
  readonly requestId: string
  /** The model name the upstream expects, after Fluxen's model mapping. */
  readonly upstreamModel: string
  /** Aborted when the client disconnects or the request is cancelled. */
  readonly signal: AbortSignal
  /** Idle timeout for this model, in milliseconds; pass it to the transport. */
  readonly idleTimeoutMs: number
  readonly clientHeaders: RequestHeaders
}

/** A complete JSON answer. */
export interface JsonResult {
  readonly _tag: "Json"
  readonly status: number
  /** Upstream headers worth passing to the client (lowercase names). */
  readonly headers: Readonly<Record<string, string>>
  /**
   * The canonical body (an OpenAI-shaped object for OpenAI routes). When
   * `bytes` contains it, an adapter may parse it on the first read, and that
   * read throws an `UpstreamProtocolError` if the bytes are not valid JSON.
   */
  readonly body: unknown
  /**
   * The exact bytes to send when the body is unchanged from the upstream's,
   * so that large payloads (base64 embeddings) pass through without being
   * serialized again. Absent when the runtime must serialize `body`.
   */
  readonly bytes?: Uint8Array
  readonly usage?: Usage
}

/**
 * One event of a streamed answer, in the client's wire format: the runtime
 * writes `event` and `data` as SSE fields without parsing `data` again.
 */
export interface StreamEvent extends SseEvent {
  /** The parsed payload, when the adapter parsed it (a chat completion chunk on chat routes). */
  readonly json?: unknown
  /** Usage carried by this event. The last one seen in a stream wins. */
  readonly usage?: Usage
  /**
   * The event exists only to carry usage (OpenAI's final `choices: []`
   * chunk). The runtime drops it for clients that did not ask for usage.
   */
  readonly usageOnly?: boolean
  /** The stream's terminator (`data: [DONE]`). */
  readonly done?: boolean
}

/** A streamed answer. Iterating `events` pulls from the upstream; stopping early closes it. */
export interface StreamResult {
  readonly _tag: "Stream"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly events: AsyncIterable<StreamEvent>
  /**
   * The whole response that the events make up, when it is known before they
   * are sent, as it is for a cache replaying a stored completion. When the stream
   * completes, after hooks get it as `Outcome.response`, and the host does not
   * assemble the events to make it.
   */
  readonly completion?: unknown
}

export type ProviderResult = JsonResult | StreamResult

export interface ModelInfo {
  readonly id: string
  readonly ownedBy: string
}

/**
 * Endpoints whose bodies an adapter may forward with only the model
 * replaced: OpenAI's legacy completions and Responses API, and Anthropic's
 * Messages API for Anthropic clients talking to Anthropic models.
 */
export type PassthroughEndpoint = "completions" | "responses" | "messages"

/** The upstream's count of a request's input tokens. */
export interface InputTokenCount {
  readonly inputTokens: number
  /** Upstream headers worth passing to the client (lowercase names), such as rate-limit headers. */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * A chat request field outside OpenAI's schema that some adapters read:
 * `top_k`, the number of most likely tokens to sample from.
 */
export type ChatExtension = "top_k"

export interface ProviderAdapter {
  readonly chat: (request: ChatRequest, context: CallContext) => Effect.Effect<JsonResult, ProviderError>
  /**
   * Starts a streamed chat. The adapter always asks the upstream for usage
   * when it can; the runtime hides usage-only events from clients that did
   * not request them.
   */
  readonly chatStream: (request: ChatRequest, context: CallContext) => Effect.Effect<StreamResult, ProviderError>
  readonly embeddings: (request: EmbeddingsRequest, context: CallContext) => Effect.Effect<JsonResult, ProviderError>
  /**
   * The chat request fields outside OpenAI's schema that `chat` and
   * `chatStream` read. When the host translates a request of another API
   * (Anthropic's Messages) into a chat request, it carries such a field over
   * only for an adapter that lists it, because OpenAI rejects fields it does
   * not know. Chat route requests reach every adapter with all their fields.
   */
  readonly chatExtensions?: ReadonlyArray<ChatExtension>
  readonly listModels?: (context: { readonly signal: AbortSignal }) => Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError>
  /** The endpoints `passthrough` serves; the others are translated to and from chat by the host. */
  readonly passthroughEndpoints?: ReadonlyArray<PassthroughEndpoint>
  /** Forwards a body in the upstream's own format; absent when the upstream has none of these APIs. */
  readonly passthrough?: (
    endpoint: PassthroughEndpoint,
    request: CompletionRequest | ResponsesRequest | MessagesRequest,
    context: CallContext
  ) => Effect.Effect<ProviderResult, ProviderError>
  /**
   * Requests from the upstream the number of input tokens that an
   * Anthropic-shaped request (`/v1/messages/count_tokens`) would take, sending
   * `context.upstreamModel`. Without it the host responds to that route with
   * its own estimate.
   */
  readonly countTokens?: (request: CountTokensRequest, context: CallContext) => Effect.Effect<InputTokenCount, ProviderError>
}
