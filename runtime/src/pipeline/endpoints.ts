/**
 * The proxied OpenAI routes as a table: the body schema each one decodes
 * with, and the adapter call it makes.
 */
import {
  ChatRequest,
  CompletionRequest,
  EmbeddingsRequest,
  InvalidRequestError,
  ResponsesRequest,
  type CallContext,
  type CanonicalRequest,
  type Endpoint,
  type ProviderAdapter,
  type ProviderError,
  type ProviderResult
} from "@fluxen/sdk"
import { Effect, type Schema } from "effect"

export interface EndpointSpec {
  readonly endpoint: Endpoint
  readonly schema: Schema.Schema<any, any>
  readonly invoke: (
    adapter: ProviderAdapter,
    request: CanonicalRequest,
    context: CallContext,
    stream: boolean
  ) => Effect.Effect<ProviderResult, ProviderError>
}

const passthrough =
  (endpoint: "completions" | "responses"): EndpointSpec["invoke"] =>
  (adapter, request, context) =>
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
      invoke: (adapter, request, context, stream) =>
        stream ? adapter.chatStream(request as ChatRequest, context) : adapter.chat(request as ChatRequest, context)
    }
  ],
  ["/v1/completions", { endpoint: "completions", schema: CompletionRequest, invoke: passthrough("completions") }],
  ["/v1/responses", { endpoint: "responses", schema: ResponsesRequest, invoke: passthrough("responses") }],
  [
    "/v1/embeddings",
    { endpoint: "embeddings", schema: EmbeddingsRequest, invoke: (adapter, request, context) => adapter.embeddings(request as EmbeddingsRequest, context) }
  ]
])
