/**
 * The entry point of a token-count worker thread, started by `TokenCounter`
 * from the compiled `dist/TokenCountWorker.js`. It loads o200k_base before
 * reporting ready, so the first request does not pay for the load, and loads
 * cl100k_base on first use.
 */
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { Effect, Layer } from "effect"
import { countTokens, loadEncoding } from "@fluxen/sdk/tokens"
import { CountTokens } from "./TokenCountRequest.js"

const RunnerLive = WorkerRunner.layerSerialized(CountTokens, {
  CountTokens: ({ encoding, texts }) =>
    Effect.promise(() => loadEncoding(encoding)).pipe(Effect.map((loaded) => countTokens(loaded, texts)))
}).pipe(Layer.provide(NodeWorkerRunner.layer))

Effect.promise(() => loadEncoding("o200k_base")).pipe(
  Effect.zipRight(WorkerRunner.launch(RunnerLive)),
  NodeRuntime.runMain
)
