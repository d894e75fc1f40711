/**
 * The messages between the ONNX embedder and its worker threads. Both sides
 * import this module, so requests and results are encoded with one schema.
 */
import { Schema } from "effect"

/** The files and settings each worker loads before it serves requests, passed as the worker's `workerData`. */
export const OnnxWorkerData = Schema.Struct({
  modelPath: Schema.String,
  tokenizerPath: Schema.String,
  /** Maximum input length in tokens, `[CLS]` and `[SEP]` included; longer texts are cut. */
  maxTokens: Schema.Number,
  /** Threads onnxruntime may use for one inference. */
  intraOpThreads: Schema.Number,
  /** The worker thread's nice value on Linux; 0 leaves its priority alone. */
  niceness: Schema.Number
})
export type OnnxWorkerData = typeof OnnxWorkerData.Type

/** An inference that failed on a worker, or a model the worker could not load. */
export class OnnxWorkerFailure extends Schema.TaggedError<OnnxWorkerFailure>()("OnnxWorkerFailure", {
  reason: Schema.Literal("load", "inference"),
  message: Schema.String
}) {}

/** A vector of 32-bit floats; worker messages carry it as a typed array, without copying it into a list. */
const Float32Vector = Schema.declare((value: unknown): value is Float32Array => value instanceof Float32Array, {
  identifier: "Float32Array"
})

/** The embeddings of one batch, and the thread that computed them. */
export const EmbedTextsResult = Schema.Struct({
  /** One L2-normalized vector per text, in the order of the request. */
  vectors: Schema.Array(Float32Vector),
  /** The `worker_threads` id of the worker; never 0, the main thread's id. */
  threadId: Schema.Number
})

export class EmbedTexts extends Schema.TaggedRequest<EmbedTexts>()("EmbedTexts", {
  failure: OnnxWorkerFailure,
  success: EmbedTextsResult,
  payload: { texts: Schema.Array(Schema.String) }
}) {}
