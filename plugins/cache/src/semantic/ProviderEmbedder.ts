/**
 * The `provider` embedder: an embeddings model reached through an
 * OpenAI-compatible `/embeddings` endpoint, normally Fluxen's own
 * `/v1/embeddings`, so that the call is routed, metered and cached like any
 * other. Requests go through the host's `HttpTransport`.
 */
import type { HttpTransportService } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { EmbeddingError, normalizeInPlace, type Embedder } from "./Embedder.js"

export interface ProviderEmbedderOptions {
  /** The API base URL, such as `http://127.0.0.1:8080/v1`; `/embeddings` is appended. */
  readonly baseUrl: string
  readonly model: string
  /** Sent as `Authorization: Bearer <key>` when set. */
  readonly apiKey: Redacted.Redacted<string> | undefined
  /** Requested vector length, for models that accept `dimensions`. */
  readonly dimensions: number | undefined
  /** Maximum silence while waiting for the response, in milliseconds. */
  readonly timeoutMs: number
}

const upstreamError = (message: string, cause?: unknown) =>
  new EmbeddingError({ embedder: "provider", reason: "upstream", message, cause })

const invalidResponse = (message: string) => new EmbeddingError({ embedder: "provider", reason: "invalid-response", message })

/** Decodes an embedding sent as a list of numbers or as base64 of little-endian float32 values. */
const decodeEmbedding = (value: unknown): Float32Array | undefined => {
  if (Array.isArray(value) && value.every((item) => typeof item === "number")) return Float32Array.from(value as Array<number>)
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "base64")
    if (bytes.length % 4 !== 0) return undefined
    const vector = new Float32Array(bytes.length / 4)
    for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4)
    return vector
  }
  return undefined
}

/**
 * Reads `data[].embedding` in the order of `data[].index`. Fails when the
 * count differs from the inputs or the vectors differ in length.
 */
export const readEmbeddingsResponse = (body: unknown, expected: number): Array<Float32Array> | EmbeddingError => {
  const data = typeof body === "object" && body !== null ? (body as { data?: unknown }).data : undefined
  if (!Array.isArray(data)) return invalidResponse("The embeddings response has no data list.")
  if (data.length !== expected) return invalidResponse(`The embeddings response has ${data.length} vectors for ${expected} inputs.`)

  const vectors: Array<Float32Array | undefined> = new Array(expected)
  for (const [position, item] of data.entries()) {
    const record = typeof item === "object" && item !== null ? (item as { index?: unknown; embedding?: unknown }) : {}
    const index = typeof record.index === "number" ? record.index : position
    const vector = decodeEmbedding(record.embedding)
    if (vector === undefined || vector.length === 0) return invalidResponse(`The embedding at index ${index} is not a list of numbers or base64 floats.`)
    if (index < 0 || index >= expected || vectors[index] !== undefined) return invalidResponse(`The embeddings response repeats or skips index ${index}.`)
    vectors[index] = normalizeInPlace(vector)
  }
  const length = vectors[0]!.length
  if (vectors.some((vector) => vector!.length !== length)) return invalidResponse("The embeddings in one response differ in length.")
  return vectors as Array<Float32Array>
}

/** Makes the embedder. It sends nothing until the first lookup, because the gateway may not listen yet while plugins load. */
export const makeProviderEmbedder = (transport: HttpTransportService, options: ProviderEmbedderOptions): Embedder => {
  const url = `${options.baseUrl.replace(/\/+$/, "")}/embeddings`
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${Redacted.value(options.apiKey)}`

  const embed = (texts: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const body = JSON.stringify({
        model: options.model,
        input: texts,
        encoding_format: "float",
        ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions })
      })

      const response = yield* Effect.tryPromise({
        try: async (signal) => {
          const sent = await transport.send({
            provider: "semantic-cache-embedder",
            method: "POST",
            url,
            headers,
            body,
            signal,
            idleTimeoutMs: options.timeoutMs
          })
          return { status: sent.status, bytes: await sent.bytes() }
        },
        catch: (error) => upstreamError(`The embeddings request to ${url} failed: ${error instanceof Error ? error.message : String(error)}`, error)
      })

      if (response.status !== 200) {
        // The body is not quoted: it may echo the input text.
        return yield* upstreamError(`The embeddings request to ${url} returned HTTP ${response.status}.`)
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(new TextDecoder().decode(response.bytes))
      } catch {
        return yield* invalidResponse(`The embeddings response from ${url} is not JSON.`)
      }
      const vectors = readEmbeddingsResponse(parsed, texts.length)
      if (vectors instanceof EmbeddingError) return yield* vectors
      return vectors
    })

  return {
    kind: "provider",
    id: `provider:${options.model}:${options.dimensions ?? "default"}`,
    embed
  }
}
