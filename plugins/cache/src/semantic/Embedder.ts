/** The contract of the embedders that turn a user turn into a unit vector for the semantic cache. */
import type { Effect } from "effect"
import { Schema } from "effect"

/** An embedding that did not complete. The semantic cache treats the request as a miss. */
export class EmbeddingError extends Schema.TaggedError<EmbeddingError>()("EmbeddingError", {
  embedder: Schema.Literal("lexical", "onnx", "provider"),
  reason: Schema.Literal("load", "inference", "timeout", "upstream", "invalid-response"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface Embedder {
  readonly kind: "lexical" | "onnx" | "provider"
  /**
   * Identifies the embedding space: the kind with its model and size.
   * Vectors of two embedders are comparable only when their ids are equal,
   * so the id is part of every partition key.
   */
  readonly id: string
  /** Returns one L2-normalized vector per text, in order. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
  /**
   * True when `embed` runs on the calling thread and completes without
   * waiting. A timeout cannot stop such work, so the semantic cache sets
   * none, which spares each lookup a timer and two fibers.
   */
  readonly synchronous?: boolean
  /**
   * True when reordering a text's words leaves its vector unchanged, as with
   * a bag of words. The semantic cache then also compares word order and
   * prefixed antonyms (see `TurnGuard.ts`).
   */
  readonly ignoresWordOrder?: boolean
}

/** Scales `vector` in place to length 1; a zero vector stays zero. Returns it. */
export const normalizeInPlace = (vector: Float32Array): Float32Array => {
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!
  if (sum === 0) return vector
  const scale = 1 / Math.sqrt(sum)
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! * scale
  return vector
}
