/**
 * Token counting that does not stall the event loop on a large prompt. Short
 * texts are counted inline and longer ones on a pool of worker threads.
 *
 * The encodings take about 22 MiB of the heap of the thread that loads them,
 * and every full garbage collection marks all of it again, so they make the
 * gateway's longest pauses several times longer. The calling thread loads
 * them only when `countNow` needs them (a plugin reading the prompt estimate
 * at once, as the policy plugin does). Until then `count` goes to a worker.
 *
 * Median count times from three runs of `bench/tokenizer-timing.mjs`
 * (gpt-tokenizer 4.0.0, o200k_base, English Markdown, Node 20, a 2-core AMD
 * EPYC VM): 1 KB 0.2 ms, 4 KB 0.55–0.65 ms, 8 KB 0.95–1.0 ms, 16 KB
 * 1.4–1.7 ms, 256 KB 24–26 ms and 1 MB 108–126 ms.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import * as Worker from "@effect/platform/Worker"
import type { WorkerError } from "@effect/platform/WorkerError"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Context, Effect, Layer, Schema } from "effect"
import type { ParseResult, Scope } from "effect"
import { countTokens, encodingForModel } from "@fluxen/sdk/tokens"
import { isEncodingLoadedNow, loadEncodingNow } from "@fluxen/sdk/tokens/node"
import { CountTokens } from "./TokenCountRequest.js"

/** A failure to count: the worker pool did not start (`Spawn`), or one count failed inline or on a worker. */
export class TokenCountError extends Schema.TaggedError<TokenCountError>()("TokenCountError", {
  reason: Schema.Literal("Spawn", "Inline", "Worker"),
  message: Schema.String
}) {}

export interface TokenCounterOptions {
  /**
   * Maximum total length, in characters (UTF-16 code units), of texts counted
   * on the calling thread. Longer texts go to a worker.
   */
  readonly inlineMaxChars: number
  /** Number of worker threads in the pool. Each thread counts one request at a time. */
  readonly workers: number
}

/**
 * The default inline limit. Counting 4096 characters took a median of
 * 0.55–0.65 ms on the machine measured above, and 8192 characters about 1 ms.
 */
export const DEFAULT_INLINE_MAX_CHARS = 4096

export interface TokenCounterService {
  /**
   * Counts the tokens of `texts` together, with the encoding of `model`: on
   * the calling thread when they fit there and the encoding is loaded on it,
   * otherwise on a worker.
   */
  readonly count: (model: string, texts: ReadonlyArray<string>) => Effect.Effect<number, TokenCountError>
  /**
   * Counts like `count` on the calling thread, loading the encoding there
   * first if needed, or returns undefined when the texts are too long to count
   * there. Throws a `TokenCountError` when counting fails.
   */
  readonly countNow: (model: string, texts: ReadonlyArray<string>) => number | undefined
  /** Returns true when `countNow` counts these texts on the calling thread. */
  readonly fitsInline: (texts: ReadonlyArray<string>) => boolean
}

export class TokenCounter extends Context.Tag("@fluxen/analyzer/TokenCounter")<TokenCounter, TokenCounterService>() {}

// Resolved as `../dist/` so that the compiled worker is found both from
// `dist/TokenCounter.js` and from `src/TokenCounter.ts` when tests run the
// sources. Node cannot start a worker from a `.ts` file.
const workerScript = new URL("../dist/TokenCountWorker.js", import.meta.url)

/** Starts one token-count worker thread; the `NodeWorker` spawner for {@link make}. */
export const spawnTokenCountWorker = (_id: number): WorkerThreads.Worker => new WorkerThreads.Worker(workerScript)

// A worker reports ready after loading its modules and o200k_base, which took
// 0.8–1.8 s on the measured machine. The limit only keeps a broken worker from
// hanging startup.
const WORKER_READY_TIMEOUT = "30 seconds"

const workerFailure = (error: WorkerError | ParseResult.ParseError): TokenCountError =>
  error._tag === "WorkerError"
    ? new TokenCountError({ reason: "Worker", message: `${error.message} (${error.reason}): ${String(error.cause)}` })
    : new TokenCountError({ reason: "Worker", message: "The worker's result could not be decoded." })

const sumLengths = (texts: ReadonlyArray<string>): number => {
  let total = 0
  for (const text of texts) total += text.length
  return total
}

/**
 * Starts the worker pool in the current scope. Closing the scope stops the
 * workers. The calling thread loads an encoding on the first `countNow` that
 * uses it, which blocks it for 0.1 to 0.2 seconds for o200k_base (see `loadEncoding`).
 */
export const make = (
  options: TokenCounterOptions
): Effect.Effect<TokenCounterService, TokenCountError, Scope.Scope | Worker.WorkerManager | Worker.Spawner> =>
  Effect.gen(function* () {
    if (!existsSync(fileURLToPath(workerScript))) {
      return yield* new TokenCountError({
        reason: "Spawn",
        message: `The token-count worker script ${fileURLToPath(workerScript)} was not found. Build the plugin with \`tsc -b plugins/analyzer\`.`
      })
    }
    const pool = yield* Worker.makePoolSerialized<CountTokens>({ size: options.workers }).pipe(
      Effect.timeoutFail({
        duration: WORKER_READY_TIMEOUT,
        onTimeout: () =>
          new TokenCountError({ reason: "Spawn", message: `No token-count worker was ready after ${WORKER_READY_TIMEOUT}.` })
      }),
      Effect.catchTag("WorkerError", (error) =>
        Effect.fail(new TokenCountError({ reason: "Spawn", message: `${error.message}: ${String(error.cause)}` }))
      )
    )

    const fitsInline = (texts: ReadonlyArray<string>): boolean => sumLengths(texts) <= options.inlineMaxChars

    const countNow = (model: string, texts: ReadonlyArray<string>): number | undefined => {
      if (!fitsInline(texts)) return undefined
      try {
        return countTokens(loadEncodingNow(encodingForModel(model)), texts)
      } catch (cause) {
        throw new TokenCountError({ reason: "Inline", message: String(cause) })
      }
    }

    const count = (model: string, texts: ReadonlyArray<string>): Effect.Effect<number, TokenCountError> =>
      Effect.suspend(() => {
        const encoding = encodingForModel(model)
        if (fitsInline(texts) && isEncodingLoadedNow(encoding)) {
          try {
            return Effect.succeed(countNow(model, texts)!)
          } catch (error) {
            return Effect.fail(error as TokenCountError)
          }
        }
        return pool.executeEffect(new CountTokens({ encoding, texts })).pipe(Effect.mapError(workerFailure))
      })

    return { count, countNow, fitsInline }
  })

/** The counter with its workers started from `dist/TokenCountWorker.js` by `node:worker_threads`. */
export const layer = (options: TokenCounterOptions): Layer.Layer<TokenCounter, TokenCountError> =>
  Layer.scoped(TokenCounter, make(options)).pipe(Layer.provide(NodeWorker.layer(spawnTokenCountWorker)))
