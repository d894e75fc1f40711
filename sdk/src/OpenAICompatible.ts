/**
 * A provider adapter for any server that speaks OpenAI's HTTP API: OpenAI
 * itself, and the many OpenAI-compatible servers (Groq, Mistral, vLLM,
 * Ollama, ...). Requests and responses already have the canonical shape, so
 * the adapter only swaps the model name, adds authentication, asks for
 * streamed usage and reads the usage back.
 */
import { Effect, Redacted } from "effect"
import type { ChatRequest, CompletionRequest, EmbeddingsRequest, MessagesRequest, ResponsesRequest } from "./ChatRequest.js"
import { InvalidRequestError, isGatewayError, UpstreamProtocolError, UpstreamUnreachableError, type ProviderError } from "./Errors.js"
import type { HttpTransportService, UpstreamResponse } from "./HttpTransport.js"
import type {
  CallContext,
  JsonResult,
  ModelInfo,
  PassthroughEndpoint,
  ProviderAdapter,
  ProviderResult,
  StreamEvent,
  StreamResult
} from "./Provider.js"
import { CallUpstreamRequest } from "./CallUpstreamRequest.js"
import { chunkedEvents, type StreamChunk } from "./EventBatches.js"
import { fromPromise } from "./PromiseCall.js"
import { LazyJsonResult } from "./LazyJsonResult.js"
import { LazyStreamEvent, looksLikeJsonObject, notableContent } from "./LazyStreamEvent.js"
import { findPlainEventRun } from "./plainEventRun.js"
import { SseParser, type SseEvent } from "./Sse.js"
import { SseBytes } from "./SseBytes.js"
import { ToolCallDeltaFields } from "./ToolCallDeltaFields.js"
import { scanUsageObject } from "./usageScan.js"
import { readStreamStart } from "./StreamStart.js"
import { responsesStreamError } from "./ResponsesStreamError.js"
import { pickUpstreamHeaders, readUpstreamError, reportsStreamError, upstreamErrorFromEvent, upstreamSecrets } from "./UpstreamErrors.js"
import { usageFromOpenAI, type Usage, type UsageQuirks } from "./Usage.js"

export interface OpenAICompatibleOptions {
  /** The provider instance name, used in errors and logs. */
  readonly provider: string
  /** The API root including the version path, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** How the key is sent: `Authorization: Bearer`, Azure's `api-key`, or not at all. */
  readonly authStyle?: "bearer" | "api-key" | "none"
  /** Extra headers sent on every request (e.g. `OpenAI-Organization`). */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * Whether the server honours `stream_options.include_usage`. When false,
   * streams carry no usage and the host counts tokens itself.
   */
  readonly streamUsage?: boolean
  /** Endpoints forwarded as they are; OpenAI has both, most compatible servers only `completions`. */
  readonly passthrough?: ReadonlyArray<PassthroughEndpoint>
  readonly usageQuirks?: UsageQuirks
  /**
   * Builds the URL of an operation for a model, for servers whose paths are
   * not `baseUrl + "/" + operation` (Azure's deployment URLs).
   */
  readonly buildUrl?: (operation: OpenAIOperation, upstreamModel: string) => string
  /**
   * Whether streamed tool calls may lack the `index` and `type` fields that
   * OpenAI's clients need (Mistral's do). The adapter then fills them in
   * (see `ToolCallDeltaFields`), and parses each chunk with a tool call.
   */
  readonly completeToolCallDeltas?: boolean
}

export type OpenAIOperation = "chat/completions" | "completions" | "responses" | "embeddings" | "models"

const decoder = new TextDecoder()

/** The state of one stream while the adapter reads it. */
interface StreamReading {
  readonly endpoint: PassthroughEndpoint | "chat"
  readonly headers: UpstreamResponse["headers"]
  /** True once `[DONE]` or a finish reason arrived. */
  ended: boolean
  /** True until the first event was read. */
  first: boolean
  readonly toolCalls: ToolCallDeltaFields | undefined
  /**
   * True when the adapter asked for usage that the client did not ask for. A chunk that carries
   * both choices and usage (Groq's finish chunk) then reaches the client without its `usage`.
   */
  readonly hideUsage: boolean
}

/** Returns a chunk's JSON text without its top-level `usage`, which the client did not ask for. */
const withoutUsage = (json: Record<string, unknown>): string => {
  const { usage: _hidden, ...visible } = json
  return JSON.stringify(visible)
}

const readUsageFrom = (endpoint: PassthroughEndpoint | "chat", json: any, quirks: UsageQuirks | undefined): Usage | undefined => {
  if (endpoint === "responses") {
    return json?.type === "response.completed" ? usageFromOpenAI(json.response?.usage, quirks) : undefined
  }
  // Groq also repeats usage under `x_groq`, and some of its models put it only there.
  const usage = json?.usage ?? json?.x_groq?.usage
  return usage ? usageFromOpenAI(usage, quirks) : undefined
}

export const makeOpenAICompatibleAdapter = (
  options: OpenAICompatibleOptions,
  transport: HttpTransportService
): ProviderAdapter => {
  const provider = options.provider
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  const authStyle = options.authStyle ?? "bearer"
  const streamUsage = options.streamUsage ?? true
  const completeToolCallDeltas = options.completeToolCallDeltas ?? false
  const passthroughEndpoints = new Set<PassthroughEndpoint>(options.passthrough ?? ["completions", "responses"])

  const baseHeaders: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
    ...options.headers
  }
  if (options.apiKey !== undefined && authStyle === "bearer") {
    baseHeaders["authorization"] = `Bearer ${Redacted.value(options.apiKey)}`
  } else if (options.apiKey !== undefined && authStyle === "api-key") {
    baseHeaders["api-key"] = Redacted.value(options.apiKey)
  }
  const streamHeaders = { ...baseHeaders, accept: "text/event-stream" }
  const secrets = upstreamSecrets(options.apiKey === undefined ? undefined : Redacted.value(options.apiKey), options.headers)

  const toProviderError = (cause: unknown): ProviderError => {
    if (isGatewayError(cause)) return cause as ProviderError
    return new UpstreamProtocolError({ provider, message: `Reading the upstream response failed: ${String(cause)}` })
  }

  const urlOf = (operation: OpenAIOperation, model: string) =>
    options.buildUrl === undefined ? `${baseUrl}/${operation}` : options.buildUrl(operation, model)

  const send = async (operation: OpenAIOperation, body: unknown, context: CallContext, stream: boolean): Promise<UpstreamResponse> => {
    const response = await transport.send(
      new CallUpstreamRequest(provider, "POST", urlOf(operation, context.upstreamModel), stream ? streamHeaders : baseHeaders, JSON.stringify(body), context)
    )
    if (response.status >= 400) throw await readUpstreamError(provider, response, secrets)
    return response
  }

  const parseBody = (bytes: Uint8Array): unknown => {
    try {
      return JSON.parse(decoder.decode(bytes))
    } catch {
      throw new UpstreamProtocolError({ provider, message: "The upstream sent a response body that is not valid JSON." })
    }
  }

  /**
   * Reads a JSON response. For chat completions and embeddings the usage is
   * found without parsing the body, and the body is parsed only if something
   * reads `body`. The client receives the upstream's bytes either way.
   */
  const readJson = async (response: UpstreamResponse, scanUsage: boolean): Promise<JsonResult> => {
    const bytes = await response.bytes()
    const headers = pickUpstreamHeaders(response.headers)
    const usageObject = scanUsage ? scanUsageObject(bytes) : undefined
    if (usageObject === undefined) {
      const body = parseBody(bytes)
      return { _tag: "Json", status: response.status, headers, body, bytes, usage: usageFromOpenAI((body as { usage?: unknown }).usage, options.usageQuirks) }
    }
    return new LazyJsonResult(response.status, headers, bytes, usageFromOpenAI(usageObject, options.usageQuirks), parseBody)
  }

  /**
   * Reads an OpenAI-style stream. A chat or completions stream fails on an
   * in-band error, such as an `{"error": ...}` event or a chunk whose finish
   * reason is `"error"` (see `reportsStreamError`). It also fails when it ends
   * with neither `[DONE]` nor a finish reason, because that is a cut
   * connection, not a finished response. Before the first event such a
   * failure fails the provider call (see `startChunks`), and after it the
   * host sends an error event. The Responses API's own error events fail
   * the provider call only as the first event, and pass through to the
   * client after it.
   * A chat or completions event whose text contains neither a usage object
   * nor the string `"error"` is parsed only when its `json` is read (see
   * `LazyStreamEvent`). Its finish reason, if any, is found in its text.
   */
  const invalidEvent = () => new UpstreamProtocolError({ provider, message: "The upstream sent a stream event that is not valid JSON." })

  /** Parses one event, and throws when it is invalid or carries an error. Sets `reading.ended` on `[DONE]` or a finish reason. */
  const toEvent = (event: SseEvent, reading: StreamReading): StreamEvent => {
    const { endpoint, toolCalls } = reading
    if (event.data === "[DONE]") {
      reading.ended = true
      return { data: event.data, done: true }
    }
    if (endpoint !== "responses") {
      const content = notableContent(event.data)
      if (content !== "parse" && (toolCalls === undefined || !event.data.includes('"tool_calls"'))) {
        // Checked by its first and last characters only, so a cut or non-JSON event still
        // ends the stream. Anything else wrong in it shows when its payload is read.
        if (!looksLikeJsonObject(event.data)) throw invalidEvent()
        if (content === "finish") reading.ended = true
        return new LazyStreamEvent(event, invalidEvent)
      }
    }
    let json: any
    try {
      json = JSON.parse(event.data)
    } catch {
      throw invalidEvent()
    }
    if (endpoint === "responses") {
      // A failure reported as the first event fails the provider call, before any byte reaches the
      // client, so routing may retry it. Later error events are part of the stream that the
      // Responses API's clients read, so they pass through.
      const failure = reading.first ? responsesStreamError(provider, reading.headers, event, json, secrets) : undefined
      if (failure !== undefined) throw failure
    } else if (reportsStreamError(json)) {
      // NOTE: a usage object in an error chunk is dropped with the chunk, so the usage record then
      // has no provider usage for the tokens streamed before the failure.
      throw upstreamErrorFromEvent(provider, reading.headers, event.data, secrets)
    }
    if (Array.isArray(json?.choices) && json.choices.some((choice: any) => choice?.finish_reason)) reading.ended = true
    const usage = readUsageFrom(endpoint, json, options.usageQuirks)
    const usageOnly = usage !== undefined && Array.isArray(json.choices) && json.choices.length === 0
    const filled = toolCalls !== undefined && toolCalls.fill(json)
    let data = event.data
    if (reading.hideUsage && !usageOnly && json?.usage != null) data = withoutUsage(json)
    else if (filled) data = JSON.stringify(json)
    return event.event === undefined ? { data, json, usage, usageOnly } : { event: event.event, data, json, usage, usageOnly }
  }

  /**
   * Builds the error for a streamed request whose response is one body of another type, as from
   * a server that ignores `stream: true`. The message leaves out the body, which may contain the
   * prompt or a secret.
   */
  const notAnEventStream = (mediaType: string) =>
    new UpstreamProtocolError({
      provider,
      message: `The upstream responded to a streamed request with ${mediaType === "" ? "no content type" : mediaType.slice(0, 100)} instead of server-sent events.`
    })

  /**
   * Reads the events of each network read as one chunk (see `EventBatches.ts`). In a chat or
   * completions stream, the plain events that start a read stay bytes (see `findPlainEventRun`),
   * and the events after them are parsed as one batch.
   */
  async function* readChunks(response: UpstreamResponse, endpoint: PassthroughEndpoint | "chat", hideUsage: boolean): AsyncGenerator<StreamChunk> {
    const parser = new SseParser()
    const reading: StreamReading = {
      endpoint,
      headers: response.headers,
      ended: false,
      first: true,
      toolCalls: completeToolCallDeltas && endpoint === "chat" ? new ToolCallDeltaFields() : undefined,
      hideUsage
    }
    // Chunks whose tool calls get fields filled in are parsed, so such a stream is never relayed as bytes.
    const relayPlain = endpoint !== "responses" && reading.toolCalls === undefined
    let eventCount = 0
    let finished = false
    try {
      for await (const bytes of response.body) {
        let rest = bytes
        const run = relayPlain && parser.betweenEvents ? findPlainEventRun(bytes) : undefined
        if (run !== undefined) {
          parser.skippedEvents()
          if (run.finish) reading.ended = true
          eventCount += run.events
          reading.first = false
          const plain = run.end === bytes.length ? bytes : bytes.subarray(0, run.end)
          yield new SseBytes(plain, run.events, invalidEvent)
          if (run.end === bytes.length) continue
          rest = bytes.subarray(run.end)
        }
        const batch: Array<StreamEvent> = []
        try {
          for (const event of parser.push(rest)) {
            batch.push(toEvent(event, reading))
            reading.first = false
          }
        } catch (error) {
          // The events before the failing one reach the client first, as they would one by one.
          if (batch.length > 0) yield batch
          throw error
        }
        eventCount += batch.length
        if (batch.length > 0) yield batch
      }
      parser.end()
      finished = true
      if (eventCount === 0) {
        const mediaType = (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
        if (mediaType !== "text/event-stream") throw notAnEventStream(mediaType)
      }
      if (!reading.ended && endpoint !== "responses") {
        throw new UpstreamUnreachableError({ provider, reason: "the stream ended before the answer was complete" })
      }
    } finally {
      // Stopping early (client gone, error) must close the upstream connection.
      if (!finished) response.discard()
    }
  }

  /**
   * Reads the first batch before the provider call returns, so that an error
   * event sent before any chunk fails the call, which routing may retry or
   * send to the next deployment. A read of only comment lines (OpenRouter's
   * keep-alives) makes no batch, so the wait goes on past it.
   */
  const startChunks = (response: UpstreamResponse, endpoint: PassthroughEndpoint | "chat", hideUsage: boolean) =>
    readStreamStart(readChunks(response, endpoint, hideUsage))

  /** Makes the result of a started stream, which can be read once, as events or as batches. */
  const streamResult = (response: UpstreamResponse, chunks: AsyncIterableIterator<StreamChunk>): StreamResult => ({
    _tag: "Stream",
    status: response.status,
    headers: pickUpstreamHeaders(response.headers),
    events: chunkedEvents(() => chunks)
  })

  /** Returns true when the adapter requests streamed usage that the client did not request. */
  const usageAddedFor = (request: { readonly stream_options?: unknown }): boolean =>
    streamUsage && (request.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage !== true

  // A server without streamed usage gets no `stream_options` at all, because some of them (Mistral)
  // reject the field, even when the client sent it.
  const withStreamUsage = <R extends { readonly stream_options?: unknown }>(request: R, model: string) => {
    if (streamUsage) return { ...request, model, stream: true, stream_options: { ...(request.stream_options as object | null), include_usage: true } }
    const { stream_options: _ignored, ...rest } = request
    return { ...rest, model, stream: true }
  }

  // A request that already names the upstream model and sets `stream: false` is sent as it is, without a copy.
  // Without the field it gets one, because some compatible servers stream by default.
  const plainChatBody = (request: ChatRequest, model: string): ChatRequest =>
    request.model === model && request.stream === false ? request : { ...request, model, stream: false }

  const chat = (request: ChatRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    fromPromise(
      async () => readJson(await send("chat/completions", plainChatBody(request, context.upstreamModel), context, false), true),
      toProviderError
    )

  const chatStream = (request: ChatRequest, context: CallContext): Effect.Effect<StreamResult, ProviderError> =>
    fromPromise(async () => {
      const response = await send("chat/completions", withStreamUsage(request, context.upstreamModel), context, true)
      return streamResult(response, await startChunks(response, "chat", usageAddedFor(request)))
    }, toProviderError)

  const embeddings = (request: EmbeddingsRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    fromPromise(async () => readJson(await send("embeddings", { ...request, model: context.upstreamModel }, context, false), true), toProviderError)

  const listModels = (context: { readonly signal: AbortSignal }): Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =>
    Effect.tryPromise({
      try: async () => {
        const response = await transport.send({
          provider,
          method: "GET",
          url: urlOf("models", ""),
          headers: baseHeaders,
          signal: context.signal,
          idleTimeoutMs: 30_000
        })
        if (response.status >= 400) throw await readUpstreamError(provider, response, secrets)
        const body = JSON.parse(decoder.decode(await response.bytes())) as { data?: Array<{ id?: unknown; owned_by?: unknown }> }
        return (body.data ?? []).flatMap((model) =>
          typeof model.id === "string" ? [{ id: model.id, ownedBy: typeof model.owned_by === "string" ? model.owned_by : provider }] : []
        )
      },
      catch: toProviderError
    })

  const passthrough = (
    endpoint: PassthroughEndpoint,
    request: CompletionRequest | ResponsesRequest | MessagesRequest,
    context: CallContext
  ): Effect.Effect<ProviderResult, ProviderError> =>
    fromPromise(async (): Promise<ProviderResult> => {
      const path = endpoint === "completions" ? "completions" : "responses"
      if (request.stream === true) {
        // The Responses API always reports usage in `response.completed`.
        const body = endpoint === "completions" ? withStreamUsage(request as CompletionRequest, context.upstreamModel) : { ...request, model: context.upstreamModel }
        const response = await send(path, body, context, true)
        const hideUsage = endpoint === "completions" && usageAddedFor(request as CompletionRequest)
        return streamResult(response, await startChunks(response, endpoint, hideUsage))
      }
      return readJson(await send(path, { ...request, model: context.upstreamModel }, context, false), false)
    }, toProviderError)

  return passthroughEndpoints.size > 0
    ? { chat, chatStream, embeddings, listModels, passthroughEndpoints: [...passthroughEndpoints], passthrough: (endpoint, request, context) =>
        passthroughEndpoints.has(endpoint)
          ? passthrough(endpoint, request, context)
          : Effect.fail(
              new InvalidRequestError({
                message: `The provider '${provider}' does not serve /v1/${endpoint}.`,
                code: "unsupported_endpoint"
              })
            ) }
    : { chat, chatStream, embeddings, listModels }
}
