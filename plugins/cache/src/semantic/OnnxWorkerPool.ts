/**
 * The worker threads of the `onnx` embedder, reached with `postMessage`
 * directly. Each worker runs one request at a time; further requests wait in
 * order and go to the first worker that is ready and free. A worker that
 * stops, or sends a reply that makes no sense, fails its request and is
 * replaced after a delay, with a warning in the log.
 *
 * `@effect/platform`'s serialized worker pool did the same before. In a test
 * outside the gateway, this pool cut the event loop's time per embedding
 * from 309 to 114 µs, and ran 1.4 to 1.6 times as many embeddings a second
 * (docs/benchmarks-cache.md).
 */
import type * as WorkerThreads from "node:worker_threads"
import { Duration, Effect, Runtime } from "effect"
import type { Scope } from "effect"
import { EmbeddingError } from "./Embedder.js"
import type { EmbedRequest, WorkerMessage } from "./OnnxEmbedRequest.js"

export interface EmbedResult {
  readonly vectors: ReadonlyArray<Float32Array>
  /** The `worker_threads` id of the worker that ran the inference. */
  readonly threadId: number
}

export interface OnnxWorkerPool {
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<EmbedResult, EmbeddingError>
}

interface Job {
  readonly id: number
  readonly texts: ReadonlyArray<string>
  readonly resume: (effect: Effect.Effect<EmbedResult, EmbeddingError>) => void
}

interface Member {
  readonly worker: WorkerThreads.Worker
  ready: boolean
  job: Job | undefined
}

const failure = (reason: EmbeddingError["reason"], message: string, cause?: unknown) =>
  new EmbeddingError({ embedder: "onnx", reason, message, cause })

const isFloat32Vectors = (value: unknown, count: number): value is ReadonlyArray<Float32Array> =>
  Array.isArray(value) && value.length === count && value.every((vector) => vector instanceof Float32Array)

/** Replacing a stopped worker waits this long, doubled per failed start up to the maximum. */
const RESPAWN_DELAY_MS = 1_000
const MAX_RESPAWN_DELAY_MS = 30_000

/**
 * Starts `size` workers with `spawn` and waits until each has loaded its
 * model and posted "ready". Fails with reason `load` when a worker reports a
 * load failure, stops, or is not ready after `readyTimeout`. Closing the
 * scope stops the workers and fails the requests still waiting or running.
 */
export const startOnnxWorkerPool = (
  spawn: () => WorkerThreads.Worker,
  size: number,
  readyTimeout: Duration.DurationInput
): Effect.Effect<OnnxWorkerPool, EmbeddingError, Scope.Scope> =>
  Effect.gen(function* () {
    if (!Number.isInteger(size) || size < 1) {
      return yield* failure("load", `Invalid worker count ${size}: the onnx embedder needs at least one worker.`)
    }
    const runtime = yield* Effect.runtime<never>()
    const logWarning = (message: string) => Runtime.runFork(runtime)(Effect.logWarning(message))
    const members: Array<Member> = []
    const waiting: Array<Job> = []
    let nextId = 0
    let closed: EmbeddingError | undefined
    // False until every first worker is ready. Until then a worker that never became ready is not
    // replaced, because its failure fails the whole start.
    let started = false
    let respawnDelayMs = RESPAWN_DELAY_MS

    // Registered before any worker starts, so that an interrupted or failed start stops them too.
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = failure("inference", "The embedder was closed.")
        for (const job of waiting.splice(0)) job.resume(Effect.fail(closed))
        const stopping = members.splice(0)
        for (const member of stopping) member.job?.resume(Effect.fail(closed))
        await Promise.all(stopping.map((member) => member.worker.terminate()))
      })
    )

    const dispatch = () => {
      for (const member of members) {
        if (!member.ready || member.job !== undefined) continue
        const job = waiting.shift()
        if (job === undefined) return
        member.job = job
        member.worker.postMessage({ id: job.id, texts: job.texts } satisfies EmbedRequest)
      }
    }

    /** Removes a worker from the pool, fails its request, and starts a replacement unless the pool is closed. */
    const drop = (member: Member, reason: string) => {
      const index = members.indexOf(member)
      if (index === -1) return
      members.splice(index, 1)
      member.job?.resume(Effect.fail(failure("inference", `The embedding worker failed: ${reason}`)))
      member.job = undefined
      void member.worker.terminate()
      if (closed !== undefined || (!started && !member.ready)) return

      logWarning(`Embedding worker ${member.worker.threadId} stopped: ${reason}. A new worker starts in ${respawnDelayMs} ms.`)
      const delay = respawnDelayMs
      respawnDelayMs = Math.min(MAX_RESPAWN_DELAY_MS, respawnDelayMs * 2)
      setTimeout(() => {
        if (closed === undefined) start(() => {})
      }, delay).unref()
    }

    const settle = (member: Member, message: unknown) => {
      const job = member.job
      const reply = message as Partial<Extract<WorkerMessage, { id: number }>> | null
      if (job === undefined || reply === null || typeof reply !== "object" || reply.id !== job.id) {
        return drop(member, "it sent a reply that matches no pending request")
      }
      member.job = undefined
      if (reply.type === "failure" && typeof reply.failure?.message === "string") {
        job.resume(Effect.fail(failure(reply.failure.reason === "load" ? "load" : "inference", reply.failure.message)))
      } else if (reply.type === "vectors" && isFloat32Vectors(reply.vectors, job.texts.length)) {
        job.resume(Effect.succeed({ vectors: reply.vectors, threadId: Number(reply.threadId) }))
      } else {
        job.resume(Effect.fail(failure("invalid-response", "The embedding worker's result could not be decoded.")))
      }
      dispatch()
    }

    /** Starts one worker, then calls `onStartup` with undefined once it is ready, or with the reason it is not. */
    const start = (onStartup: (problem: string | undefined) => void) => {
      const member: Member = { worker: spawn(), ready: false, job: undefined }
      members.push(member)
      member.worker.on("message", (message: WorkerMessage) => {
        if (member.ready) return settle(member, message)
        if (message?.type === "ready") {
          member.ready = true
          respawnDelayMs = RESPAWN_DELAY_MS
          onStartup(undefined)
          return dispatch()
        }

        const problem =
          message?.type === "failure" && typeof message.failure?.message === "string"
            ? message.failure.message
            : `its first message was not "ready"`
        onStartup(problem)
        drop(member, problem)
      })
      member.worker.on("error", (error: Error) => {
        if (!member.ready) onStartup(error.message)
        drop(member, error.message)
      })
      member.worker.on("exit", (code) => {
        if (!member.ready) onStartup(`it exited with code ${code} before it was ready`)
        drop(member, `it exited with code ${code}`)
      })
    }

    yield* Effect.forEach(
      Array.from({ length: size }),
      () =>
        Effect.async<void, EmbeddingError>((resume) => {
          let reported = false
          start((problem) => {
            if (reported) return
            reported = true
            resume(problem === undefined ? Effect.void : Effect.fail(failure("load", `Starting an embedding worker failed: ${problem}`)))
          })
        }),
      { concurrency: "unbounded", discard: true }
    ).pipe(
      Effect.timeoutFail({
        duration: readyTimeout,
        onTimeout: () => failure("load", `No embedding worker was ready after ${Duration.format(Duration.decode(readyTimeout))}.`)
      })
    )
    started = true

    const embed = (texts: ReadonlyArray<string>): Effect.Effect<EmbedResult, EmbeddingError> =>
      Effect.async<EmbedResult, EmbeddingError>((resume) => {
        if (closed !== undefined) return resume(Effect.fail(closed))
        const job: Job = { id: nextId++, texts, resume }
        waiting.push(job)
        dispatch()
        // An interrupted request that has not started leaves the queue; a started one finishes on its worker.
        return Effect.sync(() => {
          const index = waiting.indexOf(job)
          if (index !== -1) waiting.splice(index, 1)
        })
      })

    return { embed }
  })
