/**
 * OpenAI embeddings requests served by Gemini's `batchEmbedContents`.
 *
 * Each OpenAI input string becomes one `EmbedContentRequest`. Gemini accepts
 * at most 100 of them per call (its error text: "at most 100 requests can be
 * in one batch"), so longer inputs are split into several calls. Gemini
 * reports no token usage for embeddings, so none is returned and the host
 * estimates it.
 */
import { InvalidRequestError, type EmbeddingsRequest } from "@fluxen/sdk"
import type { BatchEmbedContentsResponse, EmbedContentRequest } from "./GeminiTypes.js"

/** The largest number of requests Gemini accepts in one `batchEmbedContents` call. */
export const MAX_BATCH_SIZE = 100

/** Returns the input texts. Token-id inputs have no Gemini equivalent and are rejected. */
export const embeddingInputs = (input: EmbeddingsRequest["input"]): ReadonlyArray<string> => {
  if (typeof input === "string") return [input]
  if (input.every((item): item is string => typeof item === "string")) return input
  throw new InvalidRequestError({
    message: "'input' must be a string or an array of strings, because Gemini does not accept token ids.",
    param: "input"
  })
}

/** Splits the inputs into `batchEmbedContents` bodies of at most {@link MAX_BATCH_SIZE} requests. */
export const toBatchEmbedBodies = (
  modelPath: string,
  texts: ReadonlyArray<string>,
  dimensions: number | undefined
): Array<{ readonly requests: ReadonlyArray<EmbedContentRequest> }> => {
  const bodies: Array<{ requests: Array<EmbedContentRequest> }> = []
  for (let start = 0; start < texts.length; start += MAX_BATCH_SIZE) {
    const requests = texts.slice(start, start + MAX_BATCH_SIZE).map((text) => ({
      model: modelPath,
      content: { parts: [{ text }] },
      ...(dimensions !== undefined ? { outputDimensionality: dimensions } : {})
    }))
    bodies.push({ requests })
  }
  return bodies
}

/** Encodes a vector as OpenAI's base64 format: little-endian float32 values. */
export const float32Base64 = (values: ReadonlyArray<number>): string => {
  const view = new DataView(new ArrayBuffer(values.length * 4))
  values.forEach((value, index) => view.setFloat32(index * 4, value, true))
  return Buffer.from(view.buffer).toString("base64")
}

/** Builds OpenAI's embeddings response from the batches' vectors, in input order. */
export const toOpenAIEmbeddings = (
  batches: ReadonlyArray<BatchEmbedContentsResponse>,
  model: string,
  encodingFormat: EmbeddingsRequest["encoding_format"]
) => {
  const vectors = batches.flatMap((batch) => batch.embeddings)
  return {
    object: "list" as const,
    data: vectors.map((vector, index) => ({
      object: "embedding" as const,
      index,
      embedding: encodingFormat === "base64" ? float32Base64(vector.values) : vector.values
    })),
    model
  }
}
