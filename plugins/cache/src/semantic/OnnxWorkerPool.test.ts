import { Worker } from "node:worker_threads"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { startOnnxWorkerPool } from "./OnnxWorkerPool.js"

/**
 * Starts a worker from `body`, which runs with `port` (the parent port),
 * `threadId` and `vector(texts)` (one vector of each text's length) in scope.
 */
const fakeWorker = (body: string) => () =>
  new Worker(
    `const { parentPort: port, threadId } = require("node:worker_threads")
     const vector = (texts) => texts.map((text) => new Float32Array([text.length]))
     ${body}`,
    { eval: true }
  )

const echoing = fakeWorker(`
  port.on("message", ({ id, texts }) => port.postMessage({ type: "vectors", id, vectors: vector(texts), threadId }))
  port.postMessage({ type: "ready" })
`)

describe("ONNX worker pool", () => {
  it.live("answers each request with its own vectors", () =>
    Effect.gen(function* () {
      const pool = yield* startOnnxWorkerPool(echoing, 2, "10 seconds")

      const results = yield* Effect.all(
        ["a", "bb", "ccc", "dddd", "eeeee"].map((text) => pool.embed([text])),
        { concurrency: "unbounded" }
      )

      expect(results.map((result) => result.vectors[0]![0])).toEqual([1, 2, 3, 4, 5])
      expect(new Set(results.map((result) => result.threadId)).size).toBe(2)
    }).pipe(Effect.scoped))

  it.live("fails a request with the worker's own failure", () =>
    Effect.gen(function* () {
      const failing = fakeWorker(`
        port.on("message", ({ id }) => port.postMessage({ type: "failure", id, failure: { reason: "load", message: "no model here" } }))
        port.postMessage({ type: "ready" })
      `)
      const pool = yield* startOnnxWorkerPool(failing, 1, "10 seconds")

      const exit = yield* Effect.exit(pool.embed(["a"]))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "no model here" })))
    }).pipe(Effect.scoped))

  it.live("worker exit: its request fails, then all do", () =>
    Effect.gen(function* () {
      const crashing = fakeWorker(`
        port.on("message", () => process.exit(3))
        port.postMessage({ type: "ready" })
      `)
      const pool = yield* startOnnxWorkerPool(crashing, 1, "10 seconds")

      const first = yield* Effect.exit(pool.embed(["a"]))
      const second = yield* Effect.exit(pool.embed(["b"]))

      expect(first).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "inference", message: "The embedding worker failed: it exited with code 3" })))
      expect(second).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "inference", message: "No embedding worker is left: it exited with code 3" })))
    }).pipe(Effect.scoped))

  it.live("rejects a reply without typed vectors", () =>
    Effect.gen(function* () {
      const listing = fakeWorker(`
        port.on("message", ({ id }) => port.postMessage({ type: "vectors", id, vectors: [[0.5]], threadId }))
        port.postMessage({ type: "ready" })
      `)
      const pool = yield* startOnnxWorkerPool(listing, 1, "10 seconds")

      const exit = yield* Effect.exit(pool.embed(["a"]))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "invalid-response" })))
    }).pipe(Effect.scoped))

  it.live("drops an interrupted request that has not started", () =>
    Effect.gen(function* () {
      // The worker replies only after a "release" message, so the second request waits in the queue.
      const held = fakeWorker(`
        const held = []
        port.on("message", (message) => {
          if (message.release) for (const { id, texts } of held.splice(0)) port.postMessage({ type: "vectors", id, vectors: vector(texts), threadId })
          else held.push(message)
        })
        port.postMessage({ type: "ready" })
      `)
      const seen: Array<unknown> = []
      let worker: Worker | undefined
      const pool = yield* startOnnxWorkerPool(
        () => {
          worker = held()
          const post = worker.postMessage.bind(worker)
          worker.postMessage = (message: unknown) => {
            seen.push(message)
            post(message)
          }
          return worker
        },
        1,
        "10 seconds"
      )

      const first = yield* Effect.fork(pool.embed(["first"]))
      const second = yield* Effect.fork(pool.embed(["second"]))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(second)
      worker!.postMessage({ release: true })
      const result = yield* Fiber.join(first)

      expect(result.vectors[0]![0]).toBe(5)
      // The interrupted request never reached the worker.
      expect(seen.filter((message) => (message as { texts?: unknown }).texts !== undefined)).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.live("fails to start when a worker never says it is ready", () =>
    Effect.gen(function* () {
      const silent = fakeWorker(`setInterval(() => {}, 1000)`)

      const exit = yield* Effect.exit(Effect.scoped(startOnnxWorkerPool(silent, 1, "200 millis")))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "No embedding worker was ready after 200ms." })))
    }))
})
