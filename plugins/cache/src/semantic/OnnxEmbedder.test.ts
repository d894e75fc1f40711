import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { threadId } from "node:worker_threads"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TEST_VOCABULARY, testTokenizerJson, writeTestModel, type TestModel } from "../testing/onnxModel.js"
import { dot, normalize } from "../testing/vectors.js"
import { makeOnnxEmbedder, type OnnxEmbedderOptions } from "./OnnxEmbedder.js"
import { loadOnnxModel } from "./OnnxModel.js"

const models: Array<TestModel> = []
const makeModel = (options: Parameters<typeof writeTestModel>[0]) => {
  const model = writeTestModel(options)
  models.push(model)
  return model
}

afterAll(() => {
  for (const model of models) rmSync(model.directory, { recursive: true, force: true })
})

const options = (model: TestModel, overrides: Partial<OnnxEmbedderOptions> = {}): OnnxEmbedderOptions => ({
  modelDirectory: model.directory,
  maxTokens: 32,
  workers: 1,
  threadsPerWorker: 1,
  ...overrides
})

/** The embedding the test model must produce: the mean of word row plus type row 0 over the tokens, normalized. */
const expectedEmbedding = (model: TestModel, tokens: ReadonlyArray<string>): Float32Array => {
  const sum = new Float32Array(model.dimensions)
  for (const token of tokens) {
    const id = TEST_VOCABULARY.indexOf(token)
    for (let i = 0; i < model.dimensions; i++) sum[i] = sum[i]! + model.wordTable[id * model.dimensions + i]! + model.typeTable[i]!
  }
  return normalize(sum)
}

const small = makeModel({ dimensions: 16 })

/** Reads the nice value from a `/proc` stat file; the fields after the name's closing parenthesis start with the state. */
const threadNiceness = (statPath: string): number => {
  const stat = readFileSync(statPath, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // `nice` is field 19 of the whole line, and the fields here start at field 3.
  return Number(fields[16])
}

/** Counts this process's threads that run at `niceness`. */
const threadsWithNiceness = (niceness: number): number =>
  readdirSync(`/proc/${process.pid}/task`).filter((thread) => threadNiceness(`/proc/${process.pid}/task/${thread}/stat`) === niceness).length

describe("ONNX embedder", () => {
  it.live("loads the model and learns its length", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small))

      expect(embedder.kind).toBe("onnx")
      expect(embedder.dimensions).toBe(16)
      expect(embedder.id).toMatch(/^onnx:[0-9a-f]{16}:16:32$/)
    }).pipe(Effect.scoped))

  it.live("mean-pools token vectors under the mask", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small))

      // The second text is shorter, so its row is padded in the batch.
      const [long, short] = yield* embedder.embed(["What is the capital of France?", "Paris"])

      const longExpected = expectedEmbedding(small, ["[CLS]", "what", "is", "the", "capital", "of", "france", "?", "[SEP]"])
      const shortExpected = expectedEmbedding(small, ["[CLS]", "paris", "[SEP]"])
      expect(long).toHaveLength(16)
      expect(dot(long!, longExpected)).toBeCloseTo(1, 5)
      expect(dot(short!, shortExpected)).toBeCloseTo(1, 5)
      expect(Array.from(short!)).toEqual(Array.from(shortExpected).map((value) => expect.closeTo(value, 5)))
    }).pipe(Effect.scoped))

  it.live("returns unit vectors", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small))

      const vectors = yield* embedder.embed(["the cache", "unable gateway", "x"])

      for (const vector of vectors) expect(dot(vector, vector)).toBeCloseTo(1, 5)
    }).pipe(Effect.scoped))

  it.live("gives a batch the vectors of single calls", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small))
      const texts = ["the", "what is the capital of france", "paris"]

      const batch = yield* embedder.embed(texts)
      const single = yield* Effect.forEach(texts, (text) => Effect.map(embedder.embed([text]), (vectors) => vectors[0]!))

      for (const [i, vector] of batch.entries()) expect(dot(vector, single[i]!)).toBeCloseTo(1, 5)
    }).pipe(Effect.scoped))

  it.live("cuts input at maxTokens", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small, { maxTokens: 4 }))

      const [cut] = yield* embedder.embed(["the cache gateway paris france"])

      expect(dot(cut!, expectedEmbedding(small, ["[CLS]", "the", "cache", "[SEP]"]))).toBeCloseTo(1, 5)
    }).pipe(Effect.scoped))

  it.live("finds onnx/model.onnx", () =>
    Effect.gen(function* () {
      const nested = makeModel({ dimensions: 8, layout: "onnx-folder" })

      const embedder = yield* makeOnnxEmbedder(options(nested))

      expect(embedder.dimensions).toBe(8)
    }).pipe(Effect.scoped))

  it.live("runs inference on a worker thread", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small, { workers: 2 }))

      const results = yield* Effect.all(
        Array.from({ length: 6 }, () => embedder.embedWithThread(["the gateway"])),
        { concurrency: "unbounded" }
      )

      for (const result of results) {
        expect(result.threadId).not.toBe(0)
        expect(result.threadId).not.toBe(threadId)
      }
    }).pipe(Effect.scoped))

  it.live.skipIf(process.platform !== "linux")("lowers the workers' CPU priority", () =>
    Effect.gen(function* () {
      const embedder = yield* makeOnnxEmbedder(options(small, { workers: 2, niceness: 7 }))
      yield* embedder.embed(["the gateway"])

      expect(threadsWithNiceness(7)).toBe(2)
      expect(threadNiceness(`/proc/${process.pid}/stat`)).toBe(0)
    }).pipe(Effect.scoped))

  it.live("keeps the event loop running during inference", () =>
    Effect.gen(function* () {
      // Twelve 256-wide layers over 254 tokens make each inference take a
      // while on the worker, so that a main thread blocked by inference
      // would miss most ticks.
      const heavy = makeModel({ dimensions: 256, layers: 12, seed: 9 })
      const embedder = yield* makeOnnxEmbedder(options(heavy, { maxTokens: 256 }))
      const longText = Array.from({ length: 254 }, (_, i) => TEST_VOCABULARY[4 + (i % 17)]).join(" ")

      const intervalMs = 5
      const countTicks = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function* () {
          let ticks = 0
          const timer = setInterval(() => {
            ticks++
          }, intervalMs)
          const started = performance.now()
          yield* Effect.ensuring(effect, Effect.sync(() => clearInterval(timer)))
          return { ticks, elapsed: performance.now() - started }
        })

      const busy = yield* countTicks(
        Effect.all(Array.from({ length: 64 }, () => embedder.embed([longText])), { concurrency: "unbounded" })
      )
      // The same wait without inference shows how often this machine ticks at all.
      const idle = yield* countTicks(Effect.sleep(busy.elapsed))

      console.log(
        `64 inferences took ${busy.elapsed.toFixed(0)} ms; the main thread ticked ${busy.ticks} times, ` +
          `and ${idle.ticks} times while idle for as long`
      )
      // The batch must last long enough for the tick count to mean anything.
      expect(busy.elapsed / intervalMs).toBeGreaterThan(20)
      // Run on the main thread, 24 such inferences let the timer tick once
      // in about 94 intervals (onnxruntime-node 1.31.1, 2-core VM).
      // Through the pool the main thread ticks about half as often as when
      // idle, the rest lost to the worker's and other processes' CPU use.
      expect(busy.ticks / idle.ticks).toBeGreaterThan(0.25)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("reports a directory without a model", () =>
    Effect.gen(function* () {
      const empty = makeModel({ dimensions: 4 })
      rmSync(Path.join(empty.directory, "model.onnx"))

      const exit = yield* Effect.exit(makeOnnxEmbedder(options(empty)))

      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ reason: "load", message: `No model.onnx or onnx/model.onnx was found in ${empty.directory}.` })))
    }).pipe(Effect.scoped))

  it.live("reports an unsupported tokenizer", () =>
    Effect.gen(function* () {
      const model = makeModel({ dimensions: 4 })
      writeFileSync(Path.join(model.directory, "tokenizer.json"), JSON.stringify({ ...testTokenizerJson(), model: { type: "Unigram" } }))

      const exit = yield* Effect.exit(makeOnnxEmbedder(options(model)))

      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("only WordPiece is supported")
    }).pipe(Effect.scoped))

  it.live("reports a model file that does not load", () =>
    Effect.gen(function* () {
      const model = makeModel({ dimensions: 4 })
      writeFileSync(Path.join(model.directory, "model.onnx"), "not a model")

      const exit = yield* Effect.exit(makeOnnxEmbedder(options(model)))

      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(String(exit.cause)).toContain("EmbeddingError")
        expect(String(exit.cause)).toContain(`Loading ${Path.join(model.directory, "model.onnx")} failed`)
      }
    }).pipe(Effect.scoped))
})

describe("ONNX model on the calling thread", () => {
  it("reads the model's inputs and output", async () => {
    const model = await loadOnnxModel({
      modelPath: Path.join(small.directory, "model.onnx"),
      tokenizerPath: Path.join(small.directory, "tokenizer.json"),
      maxTokens: 16,
      intraOpThreads: 1
    })

    expect(model.inputNames).toEqual(["input_ids", "attention_mask", "token_type_ids"])
    expect(model.outputName).toBe("last_hidden_state")
    expect(await model.embed([])).toEqual([])
    await model.close()
  })
})
