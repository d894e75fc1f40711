/**
 * The provider adapter for Anthropic's Messages API: OpenAI-shaped chat
 * requests are translated both ways, and Anthropic-shaped `/v1/messages` and
 * `/v1/messages/count_tokens` requests are forwarded unchanged except for the
 * model.
 */
import {
  CallUpstreamRequest,
  InvalidRequestError,
  isGatewayError,
  readStreamStart,
  UpstreamProtocolError,
  upstreamSecrets,
  type CallContext,
  type ChatRequest,
  type CompletionRequest,
  type CountTokensRequest,
  type EmbeddingsRequest,
  type HttpTransportService,
  type InputTokenCount,
  type JsonResult,
  type MessagesRequest,
  type ModelInfo,
  type PassthroughEndpoint,
  type ProviderAdapter,
  type ProviderError,
  type ProviderResult,
  type RequestHeaders,
  type ResponsesRequest,
  type StreamEvent,
  type StreamResult,
  type Usage,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { readAnthropicEvents } from "./AnthropicEventStream.js"
import { pickAnthropicHeaders, readAnthropicError, streamedUpstreamError } from "./errors.js"
import { fromAnthropicResponse, isMessageResponse } from "./fromAnthropicResponse.js"
import type { MessagesUsage } from "./MessagesApi.js"
import { StreamTranslator } from "./StreamTranslator.js"
import { toAnthropicRequest } from "./toAnthropicRequest.js"
import { mergeAnthropicUsage, usageAtMessageStart, usageFromAnthropic } from "./usage.js"
import { isRecord } from "./validation.js"
import { withoutNullFields } from "./withoutNullFields.js"

export interface AnthropicAdapterOptions {
  /** The provider instance name, used in errors and logs. */
  readonly provider: string
  /** The API root including the version path, e.g. `https://api.anthropic.com/v1`. */
  readonly baseUrl: string
  /** Sent as `x-api-key`. Leave it undefined only behind a proxy that adds its own. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Sent as `anthropic-version`, e.g. `2023-06-01`, unless a native Messages client sent its own. */
  readonly version: string
  /** `max_tokens` for chat requests that set no limit, because Anthropic requires one. */
  readonly defaultMaxTokens: number
  /** Beta features sent in `anthropic-beta` on every request, together with the client's own `anthropic-beta`. */
  readonly betas?: ReadonlyArray<string>
  /** Extra headers sent on every request. */
  readonly headers?: Readonly<Record<string, string>>
}

/** Options of one upstream call: whether it streams, and whether the client's `anthropic-version` is sent. */
interface UpstreamCall {
  readonly stream: boolean
  readonly forwardClientVersion: boolean
}

const decoder = new TextDecoder()

/** The page size for `GET /v1/models`, the maximum that Anthropic accepts. */
const MODELS_PAGE_SIZE = 1000
const LIST_MODELS_IDLE_TIMEOUT_MS = 30_000

const isPastPing = (event: StreamEvent): boolean => (event.json as { readonly type?: unknown } | undefined)?.type !== "ping"

export const makeAnthropicAdapter = (options: AnthropicAdapterOptions, transport: HttpTransportService): ProviderAdapter => {
  const provider = options.provider
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  const configuredBetas = options.betas ?? []

  const baseHeaders: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
    "anthropic-version": options.version,
    ...options.headers
  }
  if (options.apiKey !== undefined) baseHeaders["x-api-key"] = Redacted.value(options.apiKey)
  const secrets = upstreamSecrets(options.apiKey === undefined ? undefined : Redacted.value(options.apiKey), options.headers)

  /**
   * Builds the upstream headers. The configured betas come first, then the client's, each once.
   * With `forwardClientVersion` the client's `anthropic-version`, when it sent one, replaces the
   * configured one, because the client wrote a native Messages body for its own version. Chat
   * bodies are written by Fluxen, so they keep the configured version.
   */
  const headersFor = (clientHeaders: RequestHeaders | undefined, { stream, forwardClientVersion }: UpstreamCall): Record<string, string> => {
    const headers: Record<string, string> = stream ? { ...baseHeaders, accept: "text/event-stream" } : { ...baseHeaders }
    const version = forwardClientVersion ? clientHeaders?.get("anthropic-version")?.trim() : undefined
    if (version !== undefined && version !== "") headers["anthropic-version"] = version
    const clientBetas = (clientHeaders?.get("anthropic-beta") ?? "").split(",")
    const betas = [...new Set([...configuredBetas, ...clientBetas].map((beta) => beta.trim()).filter((beta) => beta !== ""))]
    if (betas.length > 0) headers["anthropic-beta"] = betas.join(",")
    return headers
  }

  const toProviderError = (cause: unknown): ProviderError => {
    if (isGatewayError(cause)) return cause as ProviderError
    return new UpstreamProtocolError({ provider, message: `Reading the upstream response failed: ${String(cause)}` })
  }

  /** Posts to a path under `/messages`: the Messages API itself, or `/count_tokens` below it. */
  const postMessages = async (body: unknown, context: CallContext, call: UpstreamCall, subpath = ""): Promise<UpstreamResponse> => {
    const headers = headersFor(context.clientHeaders, call)
    // The request reads `context.signal` only if the transport does. Fluxen's transport watches the notice instead.
    const response = await transport.send(
      new CallUpstreamRequest(provider, "POST", `${baseUrl}/messages${subpath}`, headers, JSON.stringify(body), context)
    )
    if (response.status >= 400) throw await readAnthropicError(provider, response, secrets)
    return response
  }

  const readJsonBody = async (response: UpstreamResponse): Promise<{ readonly bytes: Uint8Array; readonly json: unknown }> => {
    const bytes = await response.bytes()
    try {
      return { bytes, json: JSON.parse(decoder.decode(bytes)) }
    } catch {
      throw new UpstreamProtocolError({ provider, message: "The upstream sent a response body that is not valid JSON." })
    }
  }

  const readMessage = async (response: UpstreamResponse) => {
    const { bytes, json } = await readJsonBody(response)
    if (!isMessageResponse(json)) {
      throw new UpstreamProtocolError({ provider, message: "The upstream sent a response that is not an Anthropic message." })
    }
    return { bytes, message: json }
  }

  // ---------------------------------------------------------------------------
  // OpenAI-shaped chat
  // ---------------------------------------------------------------------------

  const chat = (request: ChatRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    Effect.flatMap(
      toAnthropicRequest(request, { model: context.upstreamModel, defaultMaxTokens: options.defaultMaxTokens, stream: false }),
      (body) =>
        Effect.tryPromise({
          try: async (): Promise<JsonResult> => {
            const response = await postMessages(body, context, { stream: false, forwardClientVersion: false })
            const { message } = await readMessage(response)
            return {
              _tag: "Json",
              status: response.status,
              headers: pickAnthropicHeaders(response.headers),
              body: fromAnthropicResponse(message),
              usage: usageFromAnthropic(message.usage)
            }
          },
          catch: toProviderError
        })
    )

  async function* translateEvents(response: UpstreamResponse): AsyncGenerator<StreamEvent> {
    const translator = new StreamTranslator({ provider, secrets, headers: response.headers })
    for await (const { payload } of readAnthropicEvents(provider, response)) {
      yield* translator.push(payload)
      if (translator.failure !== undefined) throw translator.failure
    }
  }

  /**
   * Starts a chat stream. The translator yields nothing before `message_start`, so reading its
   * first event makes an `error` event sent before then (after `ping`s) fail the call, which
   * routing may then retry or send to a fallback deployment.
   */
  const chatStream = (request: ChatRequest, context: CallContext): Effect.Effect<StreamResult, ProviderError> =>
    Effect.flatMap(
      toAnthropicRequest(request, { model: context.upstreamModel, defaultMaxTokens: options.defaultMaxTokens, stream: true }),
      (body) =>
        Effect.tryPromise({
          try: async (): Promise<StreamResult> => {
            const response = await postMessages(body, context, { stream: true, forwardClientVersion: false })
            const events = await readStreamStart(translateEvents(response))
            return { _tag: "Stream", status: response.status, headers: pickAnthropicHeaders(response.headers), events }
          },
          catch: toProviderError
        })
    )

  const embeddings = (_request: EmbeddingsRequest, _context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    Effect.fail(
      new InvalidRequestError({
        message: `Anthropic has no embeddings API, so the provider '${provider}' cannot serve /v1/embeddings.`,
        code: "unsupported_endpoint"
      })
    )

  // ---------------------------------------------------------------------------
  // Models
  // ---------------------------------------------------------------------------

  const listModels = (context: { readonly signal: AbortSignal }): Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =>
    Effect.tryPromise({
      try: async () => {
        const models: Array<ModelInfo> = []
        let afterId: string | undefined
        // Anthropic pages with `has_more` and `last_id`, so the loop follows the cursor until the last page.
        for (;;) {
          const query = new URLSearchParams({ limit: String(MODELS_PAGE_SIZE) })
          if (afterId !== undefined) query.set("after_id", afterId)
          const response = await transport.send({
            provider,
            method: "GET",
            url: `${baseUrl}/models?${query}`,
            headers: headersFor(undefined, { stream: false, forwardClientVersion: false }),
            signal: context.signal,
            idleTimeoutMs: LIST_MODELS_IDLE_TIMEOUT_MS
          })
          if (response.status >= 400) throw await readAnthropicError(provider, response, secrets)
          const { json } = await readJsonBody(response)
          const page = isRecord(json) ? json : {}
          const data = Array.isArray(page.data) ? page.data : []
          for (const model of data) {
            if (isRecord(model) && typeof model.id === "string") models.push({ id: model.id, ownedBy: "anthropic" })
          }
          if (page.has_more !== true || typeof page.last_id !== "string" || page.last_id === afterId) return models
          afterId = page.last_id
        }
      },
      catch: toProviderError
    })

  // ---------------------------------------------------------------------------
  // Native Messages passthrough
  // ---------------------------------------------------------------------------

  async function* passthroughEvents(response: UpstreamResponse): AsyncGenerator<StreamEvent> {
    let rawUsage: MessagesUsage = {}
    let usage: Usage | undefined
    for await (const { event, data, payload } of readAnthropicEvents(provider, response)) {
      if (payload.type === "message_start" || payload.type === "message_delta") {
        const reported = payload.type === "message_start" ? payload.message?.usage : payload.usage
        const update = isRecord(reported) ? reported : undefined
        rawUsage = mergeAnthropicUsage(rawUsage, payload.type === "message_start" ? usageAtMessageStart(update) : update)
        usage = usageFromAnthropic(rawUsage)
      }
      // An `error` event is thrown, never yielded, because its message may quote the API key. Before
      // `message_start` it fails the call, and after it the host sends its own redacted error event.
      if (payload.type === "error") throw streamedUpstreamError(provider, payload.error, secrets, response.headers)
      const base = event === undefined ? { data, json: payload } : { event, data, json: payload }
      yield usage === undefined ? base : { ...base, usage }
    }
  }

  const forwardMessages = (request: MessagesRequest, context: CallContext): Effect.Effect<ProviderResult, ProviderError> =>
    Effect.tryPromise({
      try: async (): Promise<ProviderResult> => {
        const body = { ...withoutNullFields(request), model: context.upstreamModel }
        if (request.stream === true) {
          const response = await postMessages(body, context, { stream: true, forwardClientVersion: true })
          // Reading past the `ping`s makes an `error` event sent before `message_start` fail the call, as in `chatStream`.
          const events = await readStreamStart(passthroughEvents(response), isPastPing)
          return { _tag: "Stream", status: response.status, headers: pickAnthropicHeaders(response.headers), events }
        }
        const response = await postMessages(body, context, { stream: false, forwardClientVersion: true })
        const { bytes, message } = await readMessage(response)
        return {
          _tag: "Json",
          status: response.status,
          headers: pickAnthropicHeaders(response.headers),
          body: message,
          bytes,
          usage: usageFromAnthropic(message.usage)
        }
      },
      catch: toProviderError
    })

  // ---------------------------------------------------------------------------
  // Token counting
  // ---------------------------------------------------------------------------

  const countTokens = (request: CountTokensRequest, context: CallContext): Effect.Effect<InputTokenCount, ProviderError> =>
    Effect.tryPromise({
      try: async (): Promise<InputTokenCount> => {
        const response = await postMessages({ ...withoutNullFields(request), model: context.upstreamModel }, context, { stream: false, forwardClientVersion: true }, "/count_tokens")
        const { json } = await readJsonBody(response)
        const inputTokens = isRecord(json) ? json.input_tokens : undefined
        if (typeof inputTokens !== "number" || !Number.isInteger(inputTokens) || inputTokens < 0) {
          throw new UpstreamProtocolError({ provider, message: "The upstream sent a token count without a whole input_tokens number." })
        }
        return { inputTokens, headers: pickAnthropicHeaders(response.headers) }
      },
      catch: toProviderError
    })

  const passthrough = (
    endpoint: PassthroughEndpoint,
    request: CompletionRequest | ResponsesRequest | MessagesRequest,
    context: CallContext
  ): Effect.Effect<ProviderResult, ProviderError> =>
    endpoint === "messages"
      ? forwardMessages(request as MessagesRequest, context)
      : Effect.fail(
          new InvalidRequestError({
            message: `The provider '${provider}' (Anthropic) does not serve /v1/${endpoint}. Use /v1/chat/completions or /v1/messages.`,
            code: "unsupported_endpoint"
          })
        )

  return { chat, chatStream, embeddings, chatExtensions: ["top_k"], listModels, passthroughEndpoints: ["messages"], passthrough, countTokens }
}
