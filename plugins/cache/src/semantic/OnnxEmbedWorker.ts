/**
 * The entry point of an ONNX embedding worker thread, started by
 * `OnnxEmbedder` from the compiled `dist/semantic/OnnxEmbedWorker.js` with
 * an {@link OnnxWorkerData} as `workerData`. The worker loads the model
 * before it serves requests. When loading fails, it still serves, and every
 * request fails with the load error, so that the main thread can report it.
 */
import { threadId, workerData } from "node:worker_threads"
import { WorkerRunner } from "@effect/platform"
import { NodeRuntime, NodeWorkerRunner } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { EmbedTexts, OnnxWorkerData, OnnxWorkerFailure } from "./OnnxEmbedRequest.js"
import { loadOnnxModel, type OnnxModel } from "./OnnxModel.js"
import { lowerThreadPriority } from "./threadPriority.js"

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const loadModel: Effect.Effect<OnnxModel, OnnxWorkerFailure> = Schema.decodeUnknown(OnnxWorkerData)(workerData).pipe(
  Effect.mapError((error) => new OnnxWorkerFailure({ reason: "load", message: `Invalid worker data: ${error.message}` })),
  Effect.tap((options) => Effect.sync(() => lowerThreadPriority(options.niceness))),
  Effect.flatMap((options) =>
    Effect.tryPromise({
      try: () => loadOnnxModel(options),
      catch: (error) => new OnnxWorkerFailure({ reason: "load", message: messageOf(error) })
    })
  )
)

Effect.either(loadModel).pipe(
  Effect.flatMap((loaded) => {
    const runner = WorkerRunner.layerSerialized(EmbedTexts, {
      EmbedTexts: ({ texts }) => {
        if (loaded._tag === "Left") return Effect.fail(loaded.left)
        const model = loaded.right
        return Effect.tryPromise({
          try: () => model.embed(texts),
          catch: (error) => new OnnxWorkerFailure({ reason: "inference", message: messageOf(error) })
        }).pipe(Effect.map((vectors) => ({ vectors, threadId })))
      }
    }).pipe(Layer.provide(NodeWorkerRunner.layer))
    return WorkerRunner.launch(runner)
  }),
  NodeRuntime.runMain
)
