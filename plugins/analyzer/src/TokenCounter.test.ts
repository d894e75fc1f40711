import type * as WorkerThreads from "node:worker_threads"
import { NodeWorker } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import cl100k from "gpt-tokenizer/encoding/cl100k_base"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import { isEncodingLoadedNow } from "@fluxen/sdk/tokens/node"
import * as TokenCounter from "./TokenCounter.js"

const WORDS = (
  "the gateway counts every token that a request sends to a provider and records what it cost while " +
  "streaming answers arrive in small pieces so accounting must survive cancelled requests long prompts " +
  "tool calls cached inputs reasoning budgets teams keys limits models prices versions estimates workers " +
  "threads events loops latency throughput configuration override"
).split(" ")

/**
 * Builds `length` characters of English-like text from a fixed seed. Its
 * small vocabulary makes counting faster than for real prose.
 */
const englishText = (length: number): string => {
  let seed = 42
  const parts: Array<string> = []
  let size = 0
  while (size < length) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    const word = WORDS[seed % WORDS.length] ?? "token"
    let piece = `${word} `
    if (seed % 13 === 0) piece = `${word}. `
    else if (seed % 7 === 0) piece = `${word}, `
    parts.push(piece)
    size += piece.length
  }
  return parts.join("").slice(0, length)
}

const MEGABYTE = 1024 * 1024
const workersLayer = NodeWorker.layer(TokenCounter.spawnTokenCountWorker)
const ORDINARY_TEXT = { disallowedSpecial: new Set<string>() }

const makeCounter = (options: TokenCounter.TokenCounterOptions) =>
  TokenCounter.make(options).pipe(Effect.provide(workersLayer))

describe("TokenCounter", () => {
  // First in the file: no test before it loads an encoding on this thread.
  it.scopedLive("countNow: loads encoding here", () =>
    Effect.gen(function* () {
      const counter = yield* makeCounter({ inlineMaxChars: TokenCounter.DEFAULT_INLINE_MAX_CHARS, workers: 1 })
      const text = englishText(2000)

      expect(yield* counter.count("gpt-4o", [text])).toBe(o200k.countTokens(text))
      expect(isEncodingLoadedNow("o200k_base")).toBe(false)

      expect(counter.countNow("gpt-4o", [text])).toBe(o200k.countTokens(text))
      expect(isEncodingLoadedNow("o200k_base")).toBe(true)
      expect(isEncodingLoadedNow("cl100k_base")).toBe(false)
    })
  )

  it.scopedLive("count: inline once loaded", () =>
    Effect.gen(function* () {
      const counter = yield* makeCounter({ inlineMaxChars: TokenCounter.DEFAULT_INLINE_MAX_CHARS, workers: 1 })
      const text = englishText(2000)

      expect(counter.countNow("gpt-4", [text])).toBe(cl100k.countTokens(text))
      expect(counter.countNow("gpt-4o", [text])).toBe(o200k.countTokens(text))
      expect(isEncodingLoadedNow("o200k_base")).toBe(true)
      expect(isEncodingLoadedNow("cl100k_base")).toBe(true)
      expect(yield* counter.count("gpt-4o", [text])).toBe(o200k.countTokens(text))
      expect(yield* counter.count("gpt-4", [text])).toBe(cl100k.countTokens(text))
      expect(yield* counter.count("gpt-4o", [])).toBe(0)
    })
  )

  it.scopedLive("counts special-token strings as text", () =>
    Effect.gen(function* () {
      const counter = yield* makeCounter({ inlineMaxChars: 0, workers: 1 })
      const inlineCounter = yield* makeCounter({ inlineMaxChars: Number.MAX_SAFE_INTEGER, workers: 1 })
      const text = "before <|endoftext|> after <|im_start|>"

      const expected = o200k.countTokens(text, ORDINARY_TEXT)
      expect(inlineCounter.countNow("gpt-4o", [text])).toBe(expected)
      expect(yield* counter.count("gpt-4o", [text])).toBe(expected)
    })
  )

  it.scopedLive("worker matches inline on 1 MB", () =>
    Effect.gen(function* () {
      const workerCounter = yield* makeCounter({ inlineMaxChars: TokenCounter.DEFAULT_INLINE_MAX_CHARS, workers: 1 })
      const inlineCounter = yield* makeCounter({ inlineMaxChars: Number.MAX_SAFE_INTEGER, workers: 1 })
      const prompt = englishText(MEGABYTE)

      const onWorker = yield* workerCounter.count("gpt-4o", [prompt])
      const inline = inlineCounter.countNow("gpt-4o", [prompt])
      expect(onWorker).toBe(inline)
      expect(onWorker).toBe(o200k.countTokens(prompt))

      const onWorkerCl100k = yield* workerCounter.count("gpt-4-turbo", [prompt.slice(0, 200_000)])
      expect(onWorkerCl100k).toBe(cl100k.countTokens(prompt.slice(0, 200_000)))
    })
  )

  it.scopedLive("event loop runs during worker count", () =>
    Effect.gen(function* () {
      const workerCounter = yield* makeCounter({ inlineMaxChars: TokenCounter.DEFAULT_INLINE_MAX_CHARS, workers: 1 })
      const inlineCounter = yield* makeCounter({ inlineMaxChars: Number.MAX_SAFE_INTEGER, workers: 1 })
      const prompt = englishText(MEGABYTE)
      let ticks = 0
      const timer = setInterval(() => {
        ticks += 1
      }, 1)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))

      const beforeWorker = ticks
      yield* workerCounter.count("gpt-4o", [prompt])
      const ticksDuringWorker = ticks - beforeWorker

      const beforeInline = ticks
      yield* Effect.sync(() => inlineCounter.countNow("gpt-4o", [prompt]))
      const ticksDuringInline = ticks - beforeInline

      // The inline count blocks the loop for as long as the worker count
      // takes, so at most a tick queued just before it can run.
      expect(ticksDuringInline).toBeLessThanOrEqual(1)
      expect(ticksDuringWorker).toBeGreaterThanOrEqual(5)
    })
  )

  it.live("workers exit when the scope closes", () =>
    Effect.gen(function* () {
      const spawned: Array<WorkerThreads.Worker> = []
      const exitCodes: Array<number> = []
      const recordingWorkers = NodeWorker.layer((id) => {
        const worker = TokenCounter.spawnTokenCountWorker(id)
        worker.on("exit", (code) => exitCodes.push(code))
        spawned.push(worker)
        return worker
      })
      const scope = yield* Scope.make()

      const counter = yield* TokenCounter.make({ inlineMaxChars: 0, workers: 2 }).pipe(
        Effect.provide(recordingWorkers),
        Scope.extend(scope)
      )
      expect(yield* counter.count("gpt-4o", ["hello world"])).toBe(2)
      expect(spawned).toHaveLength(2)
      expect(exitCodes).toEqual([])

      yield* Scope.close(scope, Exit.void)

      expect(exitCodes).toEqual([0, 0])
      for (const worker of spawned) expect(worker.threadId).toBe(-1)
    })
  )
})
