/**
 * The worker threads of the `onnx` embedder, reached with `postMessage`
 * directly. Each worker runs one request at a time; further requests wait in
 * order and go to the first worker that is free.
 *
 * `@effect/platform`'s serialized worker pool did the same before. In a test
 * outside the gateway, this pool cut the event loop's time per embedding
 * from 309 to 114 µs, and doubled as many embeddings a second as before
 * (docs/benchmarks-cache.md).
 */
import type * as WorkerThreads from "node:worker_threads"
import { Duration, Effect } from "effect"
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
  job: Job | undefined
}

const failure = (reason: EmbeddingError["reason"], message: string, cause?: unknown) =>
  new EmbeddingError({ embedder: "onnx", reason, message, cause })

const isFloat32Vectors = (value: unknown): value is ReadonlyArray<Float32Array> =>
  Array.isArray(value) && value.every((vector) => vector instanceof Float32Array)

/**
 * Starts `size` workers with `spawn` and waits for each one's "ready"
 * message, or fails with reason `load` after `readyTimeout`. Closing the scope stops
 * them, and fails the requests still waiting.
 */
export const startOnnxWorkerPool = (
  spawn: () => WorkerThreads.Worker,
  size: number,
  readyTimeout: Duration.DurationInput
): Effect.Effect<OnnxWorkerPool, EmbeddingError, Scope.Scope> =>
  Effect.gen(function* () {
    const members: Array<Member> = []
    const waiting: Array<Job> = []
    let nextId = 0
    let closed: EmbeddingError | undefined

    const dispatch = () => {
      for (const member of members) {
        if (member.job !== undefined) continue
        const job = waiting.shift()
        if (job === undefined) return
        member.job = job
        member.worker.postMessage({ id: job.id, texts: job.texts } satisfies EmbedRequest)
      }
    }

    const settle = (member: Member, message: WorkerMessage) => {
      const job = member.job
      if (message.type === "ready" || job === undefined || message.id !== job.id) return
      member.job = undefined
      if (message.type === "failure") {
        job.resume(Effect.fail(failure(message.failure.reason, message.failure.message)))
      } else if (isFloat32Vectors(message.vectors)) {
        job.resume(Effect.succeed({ vectors: message.vectors, threadId: message.threadId }))
      } else {
        job.resume(Effect.fail(failure("invalid-response", "The embedding worker's result could not be decoded.")))
      }
      dispatch()
    }

    // A worker that stops fails its request. The others go on; when none is left, every request fails.
    const remove = (member: Member, reason: string) => {
      const index = members.indexOf(member)
      if (index === -1) return
      members.splice(index, 1)
      member.job?.resume(Effect.fail(failure("inference", `The embedding worker failed: ${reason}`)))
      member.job = undefined
      if (members.length === 0) {
        closed ??= failure("inference", `No embedding worker is left: ${reason}`)
        for (const job of waiting.splice(0)) job.resume(Effect.fail(closed))
      }
    }

    const ready = yield* Effect.forEach(
      Array.from({ length: size }),
      () =>
        Effect.async<Member, EmbeddingError>((resume) => {
          const member: Member = { worker: spawn(), job: undefined }
          members.push(member)
          const onFirst = (message: WorkerMessage) => {
            if (message.type === "ready") resume(Effect.succeed(member))
          }
          const onEarlyError = (error: Error) => resume(Effect.fail(failure("load", `Starting the embedding workers failed: ${error.message}`, error)))
          member.worker.once("message", onFirst)
          member.worker.once("error", onEarlyError)
          member.worker.on("message", (message: WorkerMessage) => settle(member, message))
          member.worker.on("error", (error: Error) => remove(member, error.message))
          member.worker.on("exit", (code) => remove(member, `it exited with code ${code}`))
        }),
      { concurrency: "unbounded" }
    ).pipe(
      Effect.timeoutFail({ duration: readyTimeout, onTimeout: () => failure("load", `No embedding worker was ready after ${Duration.format(Duration.decode(readyTimeout))}.`) }),
      Effect.either
    )

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = failure("inference", "The embedder was closed.")
        for (const job of waiting.splice(0)) job.resume(Effect.fail(closed))
        await Promise.all(members.splice(0).map((member) => member.worker.terminate()))
      })
    )
    if (ready._tag === "Left") return yield* ready.left

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
