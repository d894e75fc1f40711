import { Worker } from "node:worker_threads"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
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

const crashing = fakeWorker(`
  port.on("message", () => process.exit(3))
  port.postMessage({ type: "ready" })
`)

/** Wraps `spawn` to count the workers that exit; `exited(n)` waits up to 5 seconds for `n` of them. */
const tracked = (spawn: () => Worker) => {
  let count = 0
  return {
    spawn: () => {
      const worker = spawn()
      worker.once("exit", () => count++)
      return worker
    },
    exited: async (expected: number): Promise<number> => {
      const deadline = Date.now() + 5_000
      while (count < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      return count
    }
  }
}

describe("ONNX worker pool", () => {
  it.live("replies: vectors per request", () =>
    Effect.gen(function* () {
      const pool = yield* startOnnxWorkerPool(echoing, 2, "10 seconds")

      const results = yield* Effect.all(
        ["a", "bb", "ccc", "dddd", "eeeee"].map((text) => pool.embed([text])),
        { concurrency: "unbounded" }
      )

      expect(results.map((result) => result.vectors[0]![0])).toEqual([1, 2, 3, 4, 5])
      // Two workers shared the five requests.
      expect(new Set(results.map((result) => result.threadId)).size).toBe(2)
    }).pipe(Effect.scoped))

  it.live("worker failure: request fails", () =>
    Effect.gen(function* () {
      const failing = fakeWorker(`
        port.on("message", ({ id }) => port.postMessage({ type: "failure", id, failure: { reason: "load", message: "no model here" } }))
        port.postMessage({ type: "ready" })
      `)
      const pool = yield* startOnnxWorkerPool(failing, 1, "10 seconds")

      const exit = yield* Effect.exit(pool.embed(["a"]))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "no model here" })))
    }).pipe(Effect.scoped))

  it.live("worker exit: replaced", () =>
    Effect.gen(function* () {
      // The first worker exits on its first request; its replacement replies.
      const workers = [crashing, echoing]
      const pool = yield* startOnnxWorkerPool(() => workers.shift()!(), 1, "10 seconds")

      const first = yield* Effect.exit(pool.embed(["a"]))
      const second = yield* pool.embed(["bb"])

      expect(first).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "inference", message: "The embedding worker failed: it exited with code 3" })))
      expect(second.vectors[0]![0]).toBe(2)
      expect(workers).toHaveLength(0)
    }).pipe(Effect.scoped), { timeout: 10_000 })

  it.live("stray reply: worker replaced", () =>
    Effect.gen(function* () {
      const confused = fakeWorker(`
        port.on("message", ({ id, texts }) => port.postMessage({ type: "vectors", id: id + 100, vectors: vector(texts), threadId }))
        port.postMessage({ type: "ready" })
      `)
      const workers = [confused, echoing]
      const pool = yield* startOnnxWorkerPool(() => workers.shift()!(), 1, "10 seconds")

      const first = yield* Effect.exit(pool.embed(["a"]))
      const second = yield* pool.embed(["bb"])

      expect(first).toStrictEqual(Exit.fail(expect.objectContaining({ message: "The embedding worker failed: it sent a reply that matches no pending request" })))
      expect(second.vectors[0]![0]).toBe(2)
    }).pipe(Effect.scoped), { timeout: 10_000 })

  it.live("close: fails running request", () =>
    Effect.gen(function* () {
      const unresponsive = fakeWorker(`
        port.on("message", () => {})
        port.postMessage({ type: "ready" })
      `)
      const { spawn, exited } = tracked(unresponsive)
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(startOnnxWorkerPool(spawn, 2, "10 seconds"), scope)

      const running = yield* Effect.fork(pool.embed(["a"]))
      yield* Effect.sleep("50 millis")
      yield* Scope.close(scope, Exit.void)

      expect(yield* Fiber.await(running)).toStrictEqual(Exit.fail(expect.objectContaining({ message: "The embedder was closed." })))
      expect(yield* Effect.promise(() => exited(2))).toBe(2)
    }))

  it.live("untyped vectors: invalid response", () =>
    Effect.gen(function* () {
      const listing = fakeWorker(`
        port.on("message", ({ id }) => port.postMessage({ type: "vectors", id, vectors: [[0.5]], threadId }))
        port.postMessage({ type: "ready" })
      `)
      const pool = yield* startOnnxWorkerPool(listing, 1, "10 seconds")

      const exit = yield* Effect.exit(pool.embed(["a"]))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "invalid-response" })))
    }).pipe(Effect.scoped))

  it.live("interrupted queued request: dropped", () =>
    Effect.gen(function* () {
      // The worker replies only after a "release" message, so the second request waits in the queue.
      const gated = fakeWorker(`
        const pending = []
        port.on("message", (message) => {
          if (message.release) for (const { id, texts } of pending.splice(0)) port.postMessage({ type: "vectors", id, vectors: vector(texts), threadId })
          else pending.push(message)
        })
        port.postMessage({ type: "ready" })
      `)
      const seen: Array<unknown> = []
      let worker: Worker | undefined
      const pool = yield* startOnnxWorkerPool(
        () => {
          worker = gated()
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

  it.live("start: times out, stops workers", () =>
    Effect.gen(function* () {
      const { spawn, exited } = tracked(fakeWorker(`setInterval(() => {}, 1000)`))

      const exit = yield* Effect.exit(Effect.scoped(startOnnxWorkerPool(spawn, 1, "200 millis")))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "No embedding worker was ready after 200ms." })))
      expect(yield* Effect.promise(() => exited(1))).toBe(1)
    }))

  it.live("start: model load fails", () =>
    Effect.gen(function* () {
      const unloadable = fakeWorker(`port.postMessage({ type: "failure", id: -1, failure: { reason: "load", message: "Loading model.onnx failed" } })`)

      const exit = yield* Effect.exit(Effect.scoped(startOnnxWorkerPool(unloadable, 1, "10 seconds")))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "Starting an embedding worker failed: Loading model.onnx failed" })))
    }))

  it.live("start: worker exits first", () =>
    Effect.gen(function* () {
      const started = performance.now()

      const exit = yield* Effect.exit(Effect.scoped(startOnnxWorkerPool(fakeWorker(`process.exit(4)`), 1, "10 seconds")))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "Starting an embedding worker failed: it exited with code 4 before it was ready" })))
      expect(performance.now() - started).toBeLessThan(5_000)
    }))

  it.live("start interrupted: stops workers", () =>
    Effect.gen(function* () {
      const { spawn, exited } = tracked(fakeWorker(`setInterval(() => {}, 1000)`))
      const starting = yield* Effect.fork(Effect.scoped(startOnnxWorkerPool(spawn, 2, "10 seconds")))
      yield* Effect.sleep("100 millis")

      yield* Fiber.interrupt(starting)

      expect(yield* Effect.promise(() => exited(2))).toBe(2)
    }))

  it.live("zero workers: rejected", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(startOnnxWorkerPool(echoing, 0, "10 seconds")))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: "Invalid worker count 0: the onnx embedder needs at least one worker." })))
    }))
})
