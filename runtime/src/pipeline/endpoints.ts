/**
 * The proxied routes as a table: the body schema each one decodes with, and
 * the adapter call it makes.
 */
import {
  ChatRequest,
  CompletionRequest,
  CountTokensRequest,
  EmbeddingsRequest,
  InvalidRequestError,
  MessagesRequest,
  ResponsesRequest,
  type CallContext,
  type CanonicalRequest,
  type Endpoint,
  type GatewayError,
  type ProviderAdapter,
  type ProviderError,
  type ProviderResult
} from "@fluxen/sdk"
import { Effect, type Schema } from "effect"
import type { ApiShape } from "../http/requestIdHeaders.js"
import { invokeCountTokens } from "../ingress/anthropicCountTokens.js"
import { invokeMessages } from "../ingress/anthropicMessages.js"

export interface EndpointSpec {
  readonly endpoint: Endpoint
  readonly schema: Schema.Schema<any, any>
  readonly invoke: (
    adapter: ProviderAdapter,
    provider: string,
    request: CanonicalRequest,
    context: CallContext,
    stream: boolean
  ) => Effect.Effect<ProviderResult, GatewayError>
  /** The API whose error body shape and request id headers this route uses. */
  readonly errorShape: ApiShape
}

const passthrough =
  (endpoint: "completions" | "responses"): EndpointSpec["invoke"] =>
  (adapter, _provider, request, context) =>
    adapter.passthrough === undefined
      ? Effect.fail(
          new InvalidRequestError({
            message: `The provider of model '${request.model}' does not serve /v1/${endpoint}.`,
            code: "unsupported_endpoint"
          })
        )
      : adapter.passthrough(endpoint, request as CompletionRequest | ResponsesRequest, context)

export const proxyEndpoints: ReadonlyMap<string, EndpointSpec> = new Map<string, EndpointSpec>([
  [
    "/v1/chat/completions",
    {
      endpoint: "chat",
      schema: ChatRequest,
      errorShape: "openai",
      invoke: (adapter, _provider, request, context, stream) =>
        stream ? adapter.chatStream(request as ChatRequest, context) : adapter.chat(request as ChatRequest, context)
    }
  ],
  ["/v1/completions", { endpoint: "completions", schema: CompletionRequest, errorShape: "openai", invoke: passthrough("completions") }],
  ["/v1/responses", { endpoint: "responses", schema: ResponsesRequest, errorShape: "openai", invoke: passthrough("responses") }],
  [
    "/v1/embeddings",
    {
      endpoint: "embeddings",
      schema: EmbeddingsRequest,
      errorShape: "openai",
      invoke: (adapter, _provider, request, context) => adapter.embeddings(request as EmbeddingsRequest, context)
    }
  ],
  [
    "/v1/messages",
    {
      endpoint: "messages",
      schema: MessagesRequest,
      errorShape: "anthropic",
      invoke: (adapter, provider, request, context, stream) => invokeMessages(adapter, provider, request as MessagesRequest, context, stream)
    }
  ],
  [
    "/v1/messages/count_tokens",
    {
      endpoint: "count_tokens",
      schema: CountTokensRequest,
      errorShape: "anthropic",
      invoke: (adapter, _provider, request, context) => invokeCountTokens(adapter, request as CountTokensRequest, context)
    }
  ]
])
