/**
 * The `onnx` embedder: a sentence-embedding model from a local directory in
 * the Hugging Face layout (`model.onnx` or `onnx/model.onnx`, and
 * `tokenizer.json`), run by onnxruntime on a pool of worker threads. The
 * event loop only posts texts and receives vectors, so it never waits on an
 * inference.
 */
import { createHash } from "node:crypto"
import { createReadStream, existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import { Effect } from "effect"
import type { Scope } from "effect"
import { EmbeddingError, type Embedder } from "./Embedder.js"
import type { OnnxWorkerData } from "./OnnxEmbedRequest.js"
import { findModelFile, tokenizerFileOf } from "./modelFiles.js"
import { startOnnxWorkerPool } from "./OnnxWorkerPool.js"
import { makeWordPieceTokenizer } from "./WordPieceTokenizer.js"

export interface OnnxEmbedderOptions {
  /** The model directory, absolute. */
  readonly modelDirectory: string
  /** Maximum input length in tokens, `[CLS]` and `[SEP]` included; longer user turns are cut. */
  readonly maxTokens: number
  /** Worker threads; each runs one inference at a time. */
  readonly workers: number
  /** Threads onnxruntime may use inside one inference. */
  readonly threadsPerWorker: number
  /**
   * The workers' nice value on Linux (0 to 19). Above 0, a worker yields
   * the core to the threads that serve requests when both want it. Default 0.
   */
  readonly niceness?: number
}

export interface OnnxEmbedder extends Embedder {
  /** Length of the vectors, found by embedding a probe text at startup. */
  readonly dimensions: number
  /** Embeds texts and returns the `worker_threads` id that ran the inference, for tests. */
  readonly embedWithThread: (
    texts: ReadonlyArray<string>
  ) => Effect.Effect<{ readonly vectors: ReadonlyArray<Float32Array>; readonly threadId: number }, EmbeddingError>
}

// Resolved as `../../dist/semantic/` so that the compiled worker is found both
// from `dist/semantic/OnnxEmbedder.js` and from the sources that tests run.
// Node cannot start a worker from a `.ts` file.
const workerScript = new URL("../../dist/semantic/OnnxEmbedWorker.js", import.meta.url)

// A worker is ready once its modules and the model are loaded. The limit only
// keeps a broken worker from hanging startup.
const WORKER_READY_TIMEOUT = "30 seconds"

const loadError = (message: string, cause?: unknown) => new EmbeddingError({ embedder: "onnx", reason: "load", message, cause })

const sha256OfFile = (path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const hash = createHash("sha256")
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")))
  })

/**
 * Checks the model directory, starts the worker pool in the current scope and
 * embeds a probe text to learn the vector length. Fails with reason `load`
 * when a file is missing or the model does not load. Closing the scope stops
 * the workers.
 */
export const makeOnnxEmbedder = (options: OnnxEmbedderOptions): Effect.Effect<OnnxEmbedder, EmbeddingError, Scope.Scope> =>
  Effect.gen(function* () {
    const modelPath = yield* Effect.try({
      try: () => findModelFile(options.modelDirectory),
      catch: (error) => loadError(`Reading the model directory ${options.modelDirectory} failed.`, error)
    })
    if (modelPath === undefined) {
      return yield* loadError(`No model.onnx or onnx/model.onnx was found in ${options.modelDirectory}.`)
    }
    const tokenizerPath = tokenizerFileOf(options.modelDirectory)
    // The tokenizer is read here too, so that an unsupported file fails startup with its own message.
    yield* Effect.tryPromise({
      try: async () => makeWordPieceTokenizer(JSON.parse(await readFile(tokenizerPath, "utf8"))),
      catch: (error) => loadError(`Loading ${tokenizerPath} failed: ${error instanceof Error ? error.message : String(error)}`, error)
    })
    if (!existsSync(fileURLToPath(workerScript))) {
      return yield* loadError(
        `The embedding worker script ${fileURLToPath(workerScript)} was not found. Build the plugin with \`tsc -b plugins/cache\`.`
      )
    }
    const modelDigest = yield* Effect.tryPromise({
      try: () => sha256OfFile(modelPath),
      catch: (error) => loadError(`Reading ${modelPath} failed.`, error)
    })

    const workerData: OnnxWorkerData = {
      modelPath,
      tokenizerPath,
      maxTokens: options.maxTokens,
      intraOpThreads: options.threadsPerWorker,
      niceness: options.niceness ?? 0
    }
    const spawn = () => new WorkerThreads.Worker(workerScript, { workerData })
    const pool = yield* startOnnxWorkerPool(spawn, options.workers, WORKER_READY_TIMEOUT)
    const embedWithThread = pool.embed

    const probe = yield* embedWithThread(["dimension probe"])
    const dimensions = probe.vectors[0]?.length ?? 0
    if (dimensions === 0) return yield* loadError(`The model ${modelPath} returned an empty embedding.`)

    return {
      kind: "onnx",
      id: `onnx:${modelDigest.slice(0, 16)}:${dimensions}:${options.maxTokens}`,
      dimensions,
      embed: (texts) => Effect.map(embedWithThread(texts), (result) => result.vectors),
      embedWithThread
    } satisfies OnnxEmbedder
  })
