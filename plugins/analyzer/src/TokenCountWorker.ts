/**
 * The entry point of a token-count worker thread, started by `TokenCounter`
 * from the compiled `dist/TokenCountWorker.js`. It loads o200k_base before
 * reporting ready, so the first request does not pay for the load, and loads
 * cl100k_base on first use.
 */
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { Cause, Effect, Exit, Layer } from "effect"
import * as WorkerThreads from "node:worker_threads"
import { countTokens, loadEncoding } from "@fluxen/sdk/tokens"
import { CountTokens } from "./TokenCountRequest.js"

const RunnerLive = WorkerRunner.layerSerialized(CountTokens, {
  CountTokens: ({ encoding, texts }) =>
    Effect.promise(() => loadEncoding(encoding)).pipe(Effect.map((loaded) => countTokens(loaded, texts)))
}).pipe(Layer.provide(NodeWorkerRunner.layer))

// NOTE: Deno 2.9's `node:worker_threads` has no `parentPort.close()`, which the runner calls when the
// pool sends its close message. Unreferencing the port lets the worker end there as closing it does on Node.
const parentPort = WorkerThreads.parentPort as (WorkerThreads.MessagePort & { close?: unknown }) | null
if (parentPort !== null && typeof parentPort.close !== "function") {
  parentPort.close = () => parentPort.unref()
}

// Not `NodeRuntime.runMain`, which stops the program on SIGINT and SIGTERM: Deno delivers signals to
// worker threads too, so the workers would stop while the gateway still drains its requests. The pool
// closes each worker with a message instead, after the requests ended, and `launch` then ends by
// interruption. Any other failure is thrown, which ends the worker with an error that the pool reports.
const program = Effect.promise(() => loadEncoding("o200k_base")).pipe(Effect.zipRight(WorkerRunner.launch(RunnerLive)))
void Effect.runPromiseExit(program).then((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) throw Cause.squash(exit.cause)
})
