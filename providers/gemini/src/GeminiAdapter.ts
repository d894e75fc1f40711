/**
 * The provider adapter for Google's Gemini API (`generativelanguage.googleapis.com`):
 * chat through `generateContent` and `streamGenerateContent`, embeddings
 * through `batchEmbedContents`, and the model list. The API key is sent in
 * the `x-goog-api-key` header and not in the URL, so logged URLs do not
 * contain it.
 */
import {
  CallUpstreamRequest,
  InvalidRequestError,
  isGatewayError,
  pickUpstreamHeaders,
  readStreamStart,
  UpstreamProtocolError,
  type CallContext,
  type ChatRequest,
  type EmbeddingsRequest,
  type HttpTransportService,
  type JsonResult,
  type ModelInfo,
  type ProviderAdapter,
  type ProviderError,
  type StreamEvent,
  type StreamResult,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Effect, Either, Redacted, Schema } from "effect"
import { embeddingInputs, toBatchEmbedBodies, toOpenAIEmbeddings } from "./embeddings.js"
import { geminiHttpError } from "./errors.js"
import { fromGeminiResponse } from "./fromGeminiResponse.js"
import { BatchEmbedContentsResponse, ListModelsResponse } from "./GeminiTypes.js"
import { StreamTranslator, translateGeminiStream } from "./StreamTranslator.js"
import { toGeminiRequest } from "./toGeminiRequest.js"

export interface GeminiAdapterOptions {
  /** The provider instance name, used in errors and logs. */
  readonly provider: string
  /** The API root including the version path, e.g. `https://generativelanguage.googleapis.com/v1beta`. */
  readonly baseUrl: string
  /** Sent as the `x-goog-api-key` header. */
  readonly apiKey: Redacted.Redacted<string>
  /** Extra headers sent on every request. They cannot replace the API key header. */
  readonly headers?: Readonly<Record<string, string>>
}

// The model list is fetched outside a client request, so no per-model idle timeout applies.
const LIST_MODELS_IDLE_TIMEOUT_MS = 30_000
// Gemini returns at most 1000 models per page. The page limit bounds the loop should a server keep sending page tokens.
const LIST_MODELS_PAGE_SIZE = 1000
const LIST_MODELS_MAX_PAGES = 10

const modelNamePattern = /^(?:(?:models|tunedModels)\/)?[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Returns the resource path of a model: `models/<name>` for a bare name, or
 * the name itself when it already starts with `models/` or `tunedModels/`.
 * Throws `InvalidRequestError` for a name that could change the URL path.
 */
export const modelResourcePath = (model: string): string => {
  if (!modelNamePattern.test(model)) {
    throw new InvalidRequestError({
      message: `The model name '${model}' is not a valid Gemini model name (letters, digits, '.', '_' and '-', optionally after 'models/' or 'tunedModels/').`,
      param: "model"
    })
  }
  return model.includes("/") ? model : `models/${model}`
}

const decoder = new TextDecoder()

export const makeGeminiAdapter = (options: GeminiAdapterOptions, transport: HttpTransportService): ProviderAdapter => {
  const { provider, apiKey } = options
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  const jsonHeaders: Record<string, string> = {
    ...options.headers,
    "content-type": "application/json",
    accept: "application/json",
    "x-goog-api-key": Redacted.value(apiKey)
  }
  const streamHeaders = { ...jsonHeaders, accept: "text/event-stream" }

  const toProviderError = (cause: unknown): ProviderError => {
    if (isGatewayError(cause)) return cause as ProviderError
    return new UpstreamProtocolError({ provider, message: `Reading the upstream response failed: ${String(cause)}` })
  }

  // Sends one request and turns an error status into an UpstreamHttpError.
  // The status is checked before the body is read, because Gemini responds to
  // a failed stream request with a plain JSON error labelled text/event-stream.
  const send = async (
    method: "GET" | "POST",
    path: string,
    body: unknown,
    context: { readonly signal: AbortSignal; readonly idleTimeoutMs: number },
    stream = false
  ): Promise<UpstreamResponse> => {
    // The request reads `context.signal` only if the transport does. Fluxen's transport watches the notice instead.
    const response = await transport.send(
      new CallUpstreamRequest(provider, method, baseUrl + path, stream ? streamHeaders : jsonHeaders, body === undefined ? undefined : JSON.stringify(body), context)
    )
    if (response.status >= 400) {
      const bodyText = decoder.decode(await response.bytes())
      throw geminiHttpError({ provider, status: response.status, headers: response.headers, bodyText, apiKey })
    }
    return response
  }

  const readJson = async (response: UpstreamResponse): Promise<unknown> => {
    const text = decoder.decode(await response.bytes())
    try {
      return JSON.parse(text)
    } catch {
      throw new UpstreamProtocolError({ provider, message: "The upstream sent a response body that is not valid JSON." })
    }
  }

  const decodeOrFail = <A, I>(schema: Schema.Schema<A, I>, json: unknown, description: string): A => {
    const decoded = Schema.decodeUnknownEither(schema)(json)
    if (Either.isLeft(decoded)) throw new UpstreamProtocolError({ provider, message: `The upstream sent ${description} of an unexpected shape.` })
    return decoded.right
  }

  // -------------------------------------------------------------------------
  // Chat
  // -------------------------------------------------------------------------

  const chat = (request: ChatRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    Effect.gen(function* () {
      const body = yield* toGeminiRequest(request)

      return yield* Effect.tryPromise({
        try: async (): Promise<JsonResult> => {
          const path = `/${modelResourcePath(context.upstreamModel)}:generateContent`
          const response = await send("POST", path, body, context)
          const { completion, usage } = fromGeminiResponse(await readJson(response), { provider, model: context.upstreamModel })
          return {
            _tag: "Json",
            status: response.status,
            headers: pickUpstreamHeaders(response.headers),
            body: completion,
            ...(usage !== undefined ? { usage } : {})
          }
        },
        catch: toProviderError
      })
    })

  // Yields the translated events and closes the upstream connection when
  // iteration stops before the body has been read to the end.
  async function* readStream(response: UpstreamResponse, translator: StreamTranslator): AsyncGenerator<StreamEvent> {
    let completed = false
    try {
      yield* translateGeminiStream(response.body, translator, provider)
      completed = true
    } finally {
      if (!completed) response.discard()
    }
  }

  /**
   * Starts a stream. The first event is read before the result is returned.
   * Gemini reports some failures in the first event of an HTTP 200 stream: a
   * blocked prompt, an error event or an empty body. Reading that event early
   * fails the request with an error status before the client sees a stream.
   */
  const chatStream = (request: ChatRequest, context: CallContext): Effect.Effect<StreamResult, ProviderError> =>
    Effect.gen(function* () {
      const body = yield* toGeminiRequest(request)

      return yield* Effect.tryPromise({
        try: async (): Promise<StreamResult> => {
          const path = `/${modelResourcePath(context.upstreamModel)}:streamGenerateContent?alt=sse`
          const response = await send("POST", path, body, context, true)
          const translator = new StreamTranslator({ provider, model: context.upstreamModel, apiKey })
          const events = await readStreamStart(readStream(response, translator))
          return { _tag: "Stream", status: response.status, headers: pickUpstreamHeaders(response.headers), events }
        },
        catch: toProviderError
      })
    })

  // -------------------------------------------------------------------------
  // Embeddings and models
  // -------------------------------------------------------------------------

  const embeddings = (request: EmbeddingsRequest, context: CallContext): Effect.Effect<JsonResult, ProviderError> =>
    Effect.tryPromise({
      try: async (): Promise<JsonResult> => {
        const modelPath = modelResourcePath(context.upstreamModel)
        const bodies = toBatchEmbedBodies(modelPath, embeddingInputs(request.input), request.dimensions ?? undefined)

        // The batches go one after another, so a long input does not open many connections at once.
        const batches: Array<BatchEmbedContentsResponse> = []
        let headers: Record<string, string> = {}
        for (const body of bodies) {
          const response = await send("POST", `/${modelPath}:batchEmbedContents`, body, context)
          const batch = decodeOrFail(BatchEmbedContentsResponse, await readJson(response), "an embeddings response")
          if (batch.embeddings.length !== body.requests.length) {
            throw new UpstreamProtocolError({
              provider,
              message: `The upstream returned ${batch.embeddings.length} embeddings for ${body.requests.length} inputs.`
            })
          }
          batches.push(batch)
          headers = pickUpstreamHeaders(response.headers)
        }
        return {
          _tag: "Json",
          status: 200,
          headers,
          body: toOpenAIEmbeddings(batches, context.upstreamModel, request.encoding_format)
        }
      },
      catch: toProviderError
    })

  const listModels = (context: { readonly signal: AbortSignal }): Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =>
    Effect.tryPromise({
      try: async () => {
        const models: Array<ModelInfo> = []
        let pageToken: string | undefined
        for (let page = 0; page < LIST_MODELS_MAX_PAGES; page++) {
          let query = `?pageSize=${LIST_MODELS_PAGE_SIZE}`
          if (pageToken !== undefined) query += `&pageToken=${encodeURIComponent(pageToken)}`
          const response = await send("GET", `/models${query}`, undefined, {
            signal: context.signal,
            idleTimeoutMs: LIST_MODELS_IDLE_TIMEOUT_MS
          })
          const list = decodeOrFail(ListModelsResponse, await readJson(response), "a model list")
          for (const model of list.models ?? []) models.push({ id: model.name.replace(/^models\//, ""), ownedBy: "google" })
          pageToken = list.nextPageToken
          if (pageToken === undefined || pageToken === "") break
        }
        return models
      },
      catch: toProviderError
    })

  return { chat, chatStream, embeddings, chatExtensions: ["top_k"], listModels }
}
