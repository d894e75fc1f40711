/**
 * The entry point of an ONNX embedding worker thread, started by
 * `OnnxWorkerPool` from the compiled `dist/semantic/OnnxEmbedWorker.js` with
 * an {@link OnnxWorkerData} as `workerData`. The worker posts "ready" at
 * once and loads the model meanwhile; requests wait for the load. When
 * loading fails, it still serves, and every request fails with the load
 * error, so that the main thread can report it.
 */
import { parentPort, threadId, workerData } from "node:worker_threads"
import { Either, Schema } from "effect"
import { OnnxWorkerData, type EmbedRequest, type OnnxWorkerFailure, type WorkerMessage } from "./OnnxEmbedRequest.js"
import { loadOnnxModel, type OnnxModel } from "./OnnxModel.js"
import { lowerThreadPriority } from "./threadPriority.js"

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const port = parentPort
if (port === null) throw new Error("OnnxEmbedWorker.js runs as a worker thread only.")

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

const loaded = loadModel()
const post = (message: WorkerMessage) => port.postMessage(message)

port.on("message", async ({ id, texts }: EmbedRequest) => {
  const model = await loaded
  if (!("embed" in model)) return post({ type: "failure", id, failure: model })
  try {
    post({ type: "vectors", id, vectors: await model.embed(texts), threadId })
  } catch (error) {
    post({ type: "failure", id, failure: { reason: "inference", message: messageOf(error) } })
  }
})
post({ type: "ready" })
