/**
 * The messages between the ONNX embedder and its worker threads. Both sides
 * import this module. The messages are plain objects that `postMessage`
 * copies; vectors travel as typed arrays, without a list of numbers.
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

/** A worker's failure: the model did not load, or one inference failed. */
export interface OnnxWorkerFailure {
  readonly reason: "load" | "inference"
  readonly message: string
}

/** A request to embed `texts`. The worker's reply carries the same `id`. */
export interface EmbedRequest {
  readonly id: number
  readonly texts: ReadonlyArray<string>
}

/**
 * A message from a worker: "ready" once its model is loaded, or the reply to
 * one request. A model that did not load is reported as a failure with id -1.
 */
export type WorkerMessage =
  | { readonly type: "ready" }
  | {
      readonly type: "vectors"
      readonly id: number
      /** One L2-normalized vector per text, in the order of the request. */
      readonly vectors: ReadonlyArray<Float32Array>
      /** The `worker_threads` id of the worker; never 0, the main thread's id. */
      readonly threadId: number
    }
  | { readonly type: "failure"; readonly id: number; readonly failure: OnnxWorkerFailure }
