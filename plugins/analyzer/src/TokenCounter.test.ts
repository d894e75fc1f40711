import type * as WorkerThreads from "node:worker_threads"
import { NodeWorker } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type { CanonicalRequest } from "@fluxen/sdk"
import { Effect, Exit, Scope } from "effect"
import cl100k from "gpt-tokenizer/encoding/cl100k_base"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import { encodingForModel, isEncodingLoadedNow } from "./Encodings.js"
import { MESSAGE_FRAMING_TOKENS, promptTextOf, REPLY_PRIMING_TOKENS } from "./PromptText.js"
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

describe("encodingForModel", () => {
  it("uses cl100k_base for GPT-4 and GPT-3.5 models", () => {
    for (const model of ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo", "openai/gpt-3.5-turbo-instruct", "text-embedding-3-small"]) {
      expect(encodingForModel(model), model).toBe("cl100k_base")
    }
  })

  it("uses o200k_base for newer and other models", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-5-nano", "o3", "claude-sonnet-4-5", "gemini-2.5-pro"]) {
      expect(encodingForModel(model), model).toBe("o200k_base")
    }
  })
})

describe("promptTextOf", () => {
  it("matches gpt-tokenizer's chat encoding", () => {
    const messages = [
      { role: "system" as const, content: "You are a terse assistant." },
      { role: "user" as const, content: "Name three prime numbers." },
      { role: "assistant" as const, content: "2, 3 and 5." },
      { role: "user" as const, content: [{ type: "text", text: "And three more?" }] }
    ]
    const prompt = promptTextOf("chat", { model: "gpt-4o", messages })
    const expected = o200k.encodeChat(
      messages.map((message) => ({
        role: message.role,
        content: typeof message.content === "string" ? message.content : "And three more?"
      })),
      "gpt-4o"
    ).length

    expect(prompt).toBeDefined()
    const counted = prompt!.texts.reduce((total, text) => total + o200k.countTokens(text), 0)
    expect(counted + prompt!.fixedTokens).toBe(expected)
  })

  it("reads names, tool calls and tool definitions", () => {
    const tool = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }
    const request: CanonicalRequest = {
      model: "gpt-4o",
      messages: [
        { role: "user", name: "ana", content: "Weather in Oslo?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "{\"celsius\":4}" }
      ],
      tools: [tool]
    }

    const prompt = promptTextOf("chat", request)

    expect(prompt?.texts).toEqual([
      "user", "ana", "Weather in Oslo?",
      "assistant", "get_weather", "{\"city\":\"Oslo\"}",
      "tool", "{\"celsius\":4}",
      JSON.stringify(tool)
    ])
    expect(prompt?.fixedTokens).toBe(3 * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("counts token-id inputs one token each", () => {
    expect(promptTextOf("embeddings", { model: "text-embedding-3-small", input: [[1, 2, 3], [4, 5]] })).toEqual({ texts: [], fixedTokens: 5 })
    expect(promptTextOf("embeddings", { model: "text-embedding-3-small", input: ["a", "b"] })).toEqual({ texts: ["a", "b"], fixedTokens: 0 })
    expect(promptTextOf("completions", { model: "gpt-3.5-turbo-instruct", prompt: [7, 8, 9] })).toEqual({ texts: [], fixedTokens: 3 })
    expect(promptTextOf("completions", { model: "gpt-3.5-turbo-instruct", prompt: "Say hi" })).toEqual({ texts: ["Say hi"], fixedTokens: 0 })
  })

  it("reads Responses instructions, input items and tools", () => {
    const request = {
      model: "gpt-5",
      instructions: "Be brief.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "Add 2 and 3." }] },
        { type: "function_call", call_id: "c1", name: "add", arguments: "{\"a\":2,\"b\":3}" },
        { type: "function_call_output", call_id: "c1", output: "5" }
      ],
      tools: [{ type: "function", name: "add" }]
    }

    const prompt = promptTextOf("responses", request)

    expect(prompt?.texts).toEqual(["Be brief.", "user", "Add 2 and 3.", "add", "{\"a\":2,\"b\":3}", "5", "{\"type\":\"function\",\"name\":\"add\"}"])
    expect(prompt?.fixedTokens).toBe(4 * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("skips the messages endpoint", () => {
    expect(promptTextOf("messages", { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] })).toBeUndefined()
  })
})

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
