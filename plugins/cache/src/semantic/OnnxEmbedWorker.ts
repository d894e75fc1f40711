/**
 * The entry point of an ONNX embedding worker thread, started by
 * `OnnxWorkerPool` from the compiled `dist/semantic/OnnxEmbedWorker.js` with
 * an {@link OnnxWorkerData} as `workerData`. The worker loads the model,
 * then posts "ready", or a failure with the load error (request id -1), which
 * the pool reports and acts on.
 */
import { parentPort, threadId, workerData } from "node:worker_threads"
import { Either, Schema } from "effect"
import { OnnxWorkerData, type EmbedRequest, type OnnxWorkerFailure, type WorkerMessage } from "./OnnxEmbedRequest.js"
import { loadOnnxModel, type OnnxModel } from "./OnnxModel.js"
import { lowerThreadPriority } from "./threadPriority.js"

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const port = parentPort
if (port === null) throw new Error("OnnxEmbedWorker.js must run as a worker thread; the onnx embedder starts it.")

const loadModel = async (): Promise<OnnxModel | OnnxWorkerFailure> => {
  const decoded = Schema.decodeUnknownEither(OnnxWorkerData)(workerData)
  if (Either.isLeft(decoded)) return { reason: "load", message: `Invalid worker data: ${decoded.left.message}` }
  lowerThreadPriority(decoded.right.niceness)
  try {
    return await loadOnnxModel(decoded.right)
  } catch (error) {
    return { reason: "load", message: messageOf(error) }
  }
}

const post = (message: WorkerMessage) => port.postMessage(message)

const model = await loadModel()
if ("embed" in model) {
  port.on("message", async ({ id, texts }: EmbedRequest) => {
    try {
      post({ type: "vectors", id, vectors: await model.embed(texts), threadId })
    } catch (error) {
      post({ type: "failure", id, failure: { reason: "inference", message: messageOf(error) } })
    }
  })
  post({ type: "ready" })
} else {
  post({ type: "failure", id: -1, failure: model })
}
