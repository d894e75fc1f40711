/**
 * The provider adapter for Cohere's Chat API v2: chat and streamed chat
 * through `POST /v2/chat`. The API key goes in the `Authorization` header.
 */
import {
  batchedEvents,
  CallUpstreamRequest,
  InvalidRequestError,
  isGatewayError,
  pickUpstreamHeaders,
  UpstreamProtocolError,
  upstreamSecrets,
  type CallContext,
  type ChatRequest,
  type HttpTransportService,
  type JsonResult,
  type ProviderAdapter,
  type ProviderError,
  type StreamEvent,
  type StreamResult,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import type { CohereChatResponse } from "./CohereApi.js"
import { CohereStreamTranslator, translateCohereBatches } from "./CohereStream.js"
import { cohereHttpError } from "./errors.js"
import { fromCohereResponse } from "./fromCohereResponse.js"
import { toCohereRequest } from "./toCohereRequest.js"

export interface CohereAdapterOptions {
  /** The provider instance name, used in errors and logs. */
  readonly provider: string
  /** The API root without the version path, e.g. `https://api.cohere.com`. */
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted<string>
  /** Extra headers sent with every request. They cannot replace the `Authorization` header. */
  readonly headers?: Readonly<Record<string, string>>
}

const decoder = new TextDecoder()

export const makeCohereAdapter = (options: CohereAdapterOptions, transport: HttpTransportService): ProviderAdapter => {
  const { provider, apiKey } = options
  const chatUrl = `${options.baseUrl.replace(/\/+$/, "")}/v2/chat`
  const jsonHeaders: Record<string, string> = {
    ...options.headers,
    "content-type": "application/json",
    accept: "application/json",
    authorization: `Bearer ${Redacted.value(apiKey)}`
  }
  const streamHeaders = { ...jsonHeaders, accept: "text/event-stream" }
  const secrets = upstreamSecrets(Redacted.value(apiKey), options.headers)

  const toProviderError = (cause: unknown): ProviderError => {
    if (isGatewayError(cause)) return cause as ProviderError
    return new UpstreamProtocolError({ provider, message: `Reading the Cohere response failed: ${String(cause)}` })
  }

  const send = async (request: ChatRequest, context: CallContext, stream: boolean): Promise<UpstreamResponse> => {
    const body = toCohereRequest(request, context.upstreamModel, stream)
    // CallUpstreamRequest passes the host's cancel notice and makes `context.signal` only if the transport reads it.
    const response = await transport.send(
      new CallUpstreamRequest(provider, "POST", chatUrl, stream ? streamHeaders : jsonHeaders, JSON.stringify(body), context)
    )
    if (response.status >= 400) {
      const bodyText = decoder.decode(await response.bytes())
      throw cohereHttpError({ provider, status: response.status, headers: response.headers, bodyText, secrets })
    }
    return response
  }

  const chat = (request: ChatRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    Effect.tryPromise({
      try: async (): Promise<JsonResult> => {
        const response = await send(request, context, false)
        let parsed: CohereChatResponse
        try {
          parsed = JSON.parse(decoder.decode(await response.bytes())) as CohereChatResponse
        } catch {
          throw new UpstreamProtocolError({ provider, message: "Cohere sent a response body that is not valid JSON." })
        }
        if (typeof parsed?.message !== "object" || parsed.message === null) {
          throw new UpstreamProtocolError({ provider, message: "Cohere sent a chat response without a message." })
        }
        const { completion, usage } = fromCohereResponse(parsed, context.upstreamModel)
        return {
          _tag: "Json",
          status: response.status,
          headers: pickUpstreamHeaders(response.headers),
          body: completion,
          ...(usage === undefined ? {} : { usage })
        }
      },
      catch: toProviderError
    })

  // Closes the upstream connection when iteration stops before the stream's end.
  async function* readBatches(response: UpstreamResponse, translator: CohereStreamTranslator): AsyncGenerator<ReadonlyArray<StreamEvent>> {
    let completed = false
    try {
      yield* translateCohereBatches(response.body, translator)
      completed = true
    } catch (cause) {
      throw toProviderError(cause)
    } finally {
      if (!completed) response.discard()
    }
  }

  const chatStream = (request: ChatRequest, context: CallContext): Effect.Effect<StreamResult, ProviderError> =>
    Effect.tryPromise({
      try: async (): Promise<StreamResult> => {
        const response = await send(request, context, true)
        return {
          _tag: "Stream",
          status: response.status,
          headers: pickUpstreamHeaders(response.headers),
          events: batchedEvents(() => readBatches(response, new CohereStreamTranslator({ provider, model: context.upstreamModel })))
        }
      },
      catch: toProviderError
    })

  const embeddings = (): Effect.Effect<JsonResult, ProviderError> =>
    Effect.fail(
      new InvalidRequestError({
        message: `The provider '${provider}' (Cohere example) does not serve /v1/embeddings.`,
        code: "unsupported_endpoint"
      })
    )

  return { chat, chatStream, embeddings }
}
