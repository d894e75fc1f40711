import { readFileSync } from "node:fs"
import { describe, expect, it, layer } from "@effect/vitest"
import {
  type CanonicalRequest,
  type Endpoint,
  HttpTransport,
  type Outcome,
  Plugin,
  PluginHost,
  type PluginInstance,
  type RecordFields,
  type RequestContext,
  type RequestHooks,
  type Usage,
  usageFromOpenAI
} from "@fluxen/sdk"
import { Context, Effect, HashMap, Layer, Logger, Schema } from "effect"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import { isEncodingLoadedNow } from "@fluxen/sdk/tokens/node"
import { makeRequestHooks } from "./Analyzer.js"
import definition, { AnalyzerConfig, DEFAULT_INLINE_MAX_CHARS } from "./index.js"
import { makePricingTable } from "./Pricing.js"

// CI clones the repository next to a `shared/` folder, so the recorded
// provider responses are found relative to this file.
const fixturesDir = new URL("../../../../shared/fixtures/", import.meta.url)

const openAIUsageOf = (path: string): Usage => {
  const usage = usageFromOpenAI(JSON.parse(readFileSync(new URL(path, fixturesDir), "utf8")).usage)
  if (usage === undefined) throw new Error(`The fixture ${path} has no usage.`)
  return usage
}

const HostLive = Layer.succeed(PluginHost, {
  instanceName: "analyzer",
  packageName: "@fluxen/analyzer",
  configDirectory: "/etc/fluxen"
})

// The analyzer makes no upstream calls; any call is a bug the test must surface.
const RejectingTransport = Layer.succeed(HttpTransport, {
  send: (request) => {
    throw new Error(`The analyzer sent an upstream request (${request.method} ${request.url}); it must not.`)
  }
})

const analyzerLayer = (config: unknown = {}) =>
  Layer.unwrapEffect(
    Effect.map(Schema.decodeUnknown(AnalyzerConfig)(config), (decoded) => definition.layer(decoded))
  ).pipe(Layer.provide(Layer.merge(HostLive, RejectingTransport)))

const hooksOf = (plugin: PluginInstance): Required<Pick<RequestHooks, "beforeRequest" | "afterResponse">> => {
  const hooks = plugin.hooks
  if (hooks?.beforeRequest === undefined || hooks.afterResponse === undefined) {
    throw new Error("The analyzer must provide beforeRequest and afterResponse hooks.")
  }
  return { beforeRequest: hooks.beforeRequest, afterResponse: hooks.afterResponse }
}

interface ContextOptions {
  readonly endpoint?: Endpoint
  readonly request?: CanonicalRequest
  readonly upstreamModel?: string
  readonly stream?: boolean
  readonly record?: RecordFields
}

let requestCounter = 0

const makeContext = (options: ContextOptions = {}): RequestContext => {
  const upstreamModel = options.upstreamModel ?? "gpt-4.1-nano-2025-04-14"
  requestCounter += 1
  return {
    requestId: `req_${requestCounter}`,
    endpoint: options.endpoint ?? "chat",
    stream: options.stream ?? false,
    startedAt: Date.now(),
    headers: { get: () => undefined },
    request: options.request ?? { model: upstreamModel, messages: [{ role: "user", content: "Invent a holiday." }] },
    route: { requestedModel: upstreamModel, provider: "openai", upstreamModel },
    caller: { keyId: null, team: null, metadata: {} },
    record: { ...options.record },
    responseHeaders: {},
    attributes: new Map()
  }
}

const makeOutcome = (fields: Partial<Outcome>): Outcome => ({
  status: "ok",
  httpStatus: 200,
  usage: undefined,
  error: undefined,
  response: undefined,
  streamedText: "",
  answeredByHook: false,
  upstreamResponded: true,
  ...fields
})

interface LogEntry {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Creates a logger that stores entries for assertions instead of printing them. */
const captureLogs = () => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    entries.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { entries, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("AnalyzerConfig", () => {
  it.effect("fills defaults", () =>
    Effect.gen(function* () {
      const config = yield* Schema.decodeUnknown(AnalyzerConfig)({})

      expect(config).toEqual({
        pricing: { overrides: {} },
        tokenizer: { inlineMaxChars: DEFAULT_INLINE_MAX_CHARS, workers: 1 },
        estimatePromptTokens: true
      })
    })
  )

  it.effect("rejects invalid values", () =>
    Effect.gen(function* () {
      const decode = Schema.decodeUnknownEither(AnalyzerConfig)

      expect(decode({ tokenizer: { workers: 0 } })._tag).toBe("Left")
      expect(decode({ tokenizer: { inlineMaxChars: -1 } })._tag).toBe("Left")
      expect(decode({ pricing: { overrides: { "my-model": { input: 1 } } } })._tag).toBe("Left")
      expect(decode({ pricing: { overrides: { "my-model": { input: -1, output: 1 } } } })._tag).toBe("Left")
    })
  )
})

layer(analyzerLayer(), { excludeTestServices: true })("analyzer hooks", (it) => {
  // First of the hooks' tests: none before it loads an encoding on this thread.
  it.effect("unread estimate: counted on worker", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const messages = [{ role: "user" as const, content: "Write a poem about the sea." }]
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream: true, request: { model: "gpt-4o-mini", messages } })

      yield* hooks.beforeRequest(context)
      yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, streamedText: "The sea" }))

      expect(context.record.estimatedUsage?.promptTokens).toBe(o200k.encodeChat(messages, "gpt-4o").length)
      expect(isEncodingLoadedNow("o200k_base")).toBe(false)
    })
  )

  it.effect("estimates chat prompt tokens", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const messages = [
        { role: "system" as const, content: "You are a calendar expert." },
        { role: "user" as const, content: "Invent a new holiday and describe its traditions." }
      ]
      const context = makeContext({ request: { model: "gpt-4.1-nano", messages } })

      const decision = yield* hooks.beforeRequest(context)

      expect(decision).toBeUndefined()
      expect(context.record.promptTokensEstimate).toBe(o200k.encodeChat(messages, "gpt-4o").length)
    })
  )

  it.effect("counts a short prompt when first read", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const messages = [{ role: "user" as const, content: "Invent a new holiday." }]
      const context = makeContext({ request: { model: "gpt-4.1-nano", messages } })

      yield* hooks.beforeRequest(context)
      const before = Object.getOwnPropertyDescriptor(context.record, "promptTokensEstimate")
      const estimate = context.record.promptTokensEstimate
      const after = Object.getOwnPropertyDescriptor(context.record, "promptTokensEstimate")

      expect(before?.get).toBeTypeOf("function")
      expect(estimate).toBe(o200k.encodeChat(messages, "gpt-4o").length)
      expect(after?.value).toBe(estimate)
    })
  )

  // A getter made per request would keep the request's objects alive until a full collection.
  it.effect("deferred estimates share a getter", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const first = makeContext({ request: { model: "gpt-4.1-nano", messages: [{ role: "user", content: "One." }] } })
      const second = makeContext({ request: { model: "gpt-4.1-nano", messages: [{ role: "user", content: "Two, longer." }] } })

      yield* hooks.beforeRequest(first)
      yield* hooks.beforeRequest(second)
      const getterOf = (record: object) => Object.getOwnPropertyDescriptor(record, "promptTokensEstimate")?.get

      expect(getterOf(first.record)).toBeTypeOf("function")
      expect(getterOf(first.record)).toBe(getterOf(second.record))
      expect(first.record.promptTokensEstimate).toBe(o200k.encodeChat([{ role: "user", content: "One." }], "gpt-4o").length)
      expect(second.record.promptTokensEstimate).toBe(o200k.encodeChat([{ role: "user", content: "Two, longer." }], "gpt-4o").length)
      expect(Object.keys(first.record)).toEqual(["promptTokensEstimate"])
    })
  )

  it.effect("two analyzers: prompt counted once", () =>
    Effect.gen(function* () {
      const counted: Array<string> = []
      const counter = {
        count: (_model: string, texts: ReadonlyArray<string>) => Effect.sync(() => (counted.push(texts.join("|")), 3)),
        countNow: () => 3,
        fitsInline: () => true
      }
      const runtime = yield* Effect.runtime<never>()
      const analyzerOf = (pluginName: string) =>
        makeRequestHooks({ pluginName, pricing: makePricingTable({ version: "t", models: {} }), counter, estimatePromptTokens: true, runtime })
      const [first, second] = [analyzerOf("a"), analyzerOf("b")]
      const context = makeContext({ request: { model: "gpt-4.1-nano", messages: [{ role: "user", content: "Count me." }] } })

      yield* first.beforeRequest!(context)
      yield* second.beforeRequest!(context)
      const outcome = makeOutcome({ status: "ok", httpStatus: 200, response: { choices: [{ message: { content: "Done." } }] } })
      yield* first.afterResponse!(context, outcome)
      yield* second.afterResponse!(context, outcome)

      expect(counted.filter((text) => text.includes("Count me."))).toHaveLength(1)
      expect(context.record.promptTokensEstimate).toBeTypeOf("number")
    })
  )

  it.effect("keeps an estimate written over the deferred one", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext()

      yield* hooks.beforeRequest(context)
      context.record.promptTokensEstimate = 42

      expect(context.record.promptTokensEstimate).toBe(42)
    })
  )

  it.effect("estimates long prompts on a worker", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const content = "Summarize the following meeting notes. ".repeat(2000)
      const context = makeContext({ request: { model: "gpt-4.1-nano", messages: [{ role: "user", content }] } })

      yield* hooks.beforeRequest(context)

      expect(content.length).toBeGreaterThan(DEFAULT_INLINE_MAX_CHARS)
      expect(context.record.promptTokensEstimate).toBe(o200k.encodeChat([{ role: "user", content }], "gpt-4o").length)
    })
  )

  it.effect("estimates embeddings input", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({
        endpoint: "embeddings",
        upstreamModel: "text-embedding-3-small",
        request: { model: "text-embedding-3-small", input: ["first passage", "second passage"] }
      })

      yield* hooks.beforeRequest(context)

      expect(context.record.promptTokensEstimate).toBe(4)
    })
  )

  it.effect("prices recorded usage", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ upstreamModel: "gpt-4.1-nano-2025-04-14" })

      yield* hooks.afterResponse(context, makeOutcome({ usage: openAIUsageOf("openai/chat-completions/text.json") }))

      expect(context.record.priceVersion).toBe("2026-12-05")
      expect(context.record.costUsd).toBeCloseTo(0.0001468, 15)
      expect(context.record.estimatedUsage).toBeUndefined()
      expect(context.record.costSavedUsd).toBeUndefined()
    })
  )

  it.effect("token count costs zero", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const request = { model: "gpt-4.1-nano", messages: [{ role: "user" as const, content: "Count me." }] }
      const counted = makeContext({ endpoint: "count_tokens", request })
      const failed = makeContext({ endpoint: "count_tokens", request })

      yield* hooks.beforeRequest(counted)
      yield* hooks.afterResponse(counted, makeOutcome({}))
      yield* hooks.afterResponse(failed, makeOutcome({ status: "error", httpStatus: 502 }))

      expect(counted.record.promptTokensEstimate).toBeUndefined()
      expect(counted.record.costUsd).toBe(0)
      expect(counted.record.estimatedUsage).toBeUndefined()
      expect(failed.record.costUsd).toBeUndefined()
    })
  )

  it.effect("unknown model costs null, warns once", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const logs = captureLogs()
      const usage = openAIUsageOf("openai/chat-completions/text.json")
      const first = makeContext({ upstreamModel: "acme-large-1" })
      const second = makeContext({ upstreamModel: "acme-large-1" })

      yield* hooks.afterResponse(first, makeOutcome({ usage })).pipe(Effect.provide(logs.layer))
      yield* hooks.afterResponse(second, makeOutcome({ usage })).pipe(Effect.provide(logs.layer))

      expect(first.record.costUsd).toBeNull()
      expect(second.record.costUsd).toBeNull()
      expect(second.record.priceVersion).toBe("2026-12-05")
      const warnings = logs.entries.filter((entry) => entry.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.annotations.plugin).toBe("analyzer")
      expect(warnings[0]?.annotations.model).toBe("acme-large-1")
      expect(warnings[0]?.message).toMatch(/no price/)
      expect(warnings[0]?.message).toContain("config.pricing.overrides of the analyzer's entry in plugins")
      expect(warnings[0]?.message).not.toContain("fluxen.yaml")
    })
  )

  it.effect("cache hit records the saving", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const usage = openAIUsageOf("openai/chat-completions/tool-call.json")
      const exact = makeContext({ upstreamModel: "gpt-5-nano", record: { cacheStatus: "hit" } })
      const unpriced = makeContext({ upstreamModel: "acme-cached-1", record: { cacheStatus: "hit" } })

      yield* hooks.afterResponse(exact, makeOutcome({ usage, answeredByHook: true }))
      yield* hooks.afterResponse(unpriced, makeOutcome({ usage, answeredByHook: true }))

      expect(exact.record.costUsd).toBe(0)
      expect(exact.record.costSavedUsd).toBeCloseTo(0.0001229, 15)
      expect(unpriced.record.costUsd).toBe(0)
      expect(unpriced.record.costSavedUsd).toBeNull()
    })
  )

  it.effect("semantic hit prices own prompt", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      // The stored response's usage: 162 prompt and 287 completion tokens.
      const stored = openAIUsageOf("openai/chat-completions/tool-call.json")
      const messages = [{ role: "user" as const, content: "Invent a new holiday and describe its traditions. ".repeat(40) }]
      const semantic = makeContext({ upstreamModel: "gpt-5-nano", request: { model: "gpt-5-nano", messages }, record: { cacheStatus: "semantic-hit" } })
      const promptTokens = o200k.encodeChat(messages, "gpt-4o").length

      yield* hooks.beforeRequest(semantic)
      yield* hooks.afterResponse(semantic, makeOutcome({ usage: stored, answeredByHook: true }))

      // gpt-5-nano costs $0.05 per million input tokens and $0.40 per million output tokens.
      expect(promptTokens).toBeGreaterThan(stored.promptTokens)
      expect(semantic.record.costUsd).toBe(0)
      expect(semantic.record.costSavedUsd).toBeCloseTo((promptTokens * 0.05 + stored.completionTokens * 0.4) / 1_000_000, 15)
    })
  )

  it.effect("cancelled stream records estimated usage", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const messages = [{ role: "user" as const, content: "Write a poem about the sea." }]
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream: true, request: { model: "gpt-4o-mini", messages } })
      const streamedText = "The sea rolls in with silver light,\nand folds the harbor into night"

      yield* hooks.beforeRequest(context)
      yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, streamedText }))

      const promptTokens = o200k.encodeChat(messages, "gpt-4o").length
      const completionTokens = o200k.countTokens(streamedText)
      expect(context.record.estimatedUsage).toEqual({
        promptTokens,
        completionTokens,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0
      })
      // gpt-4o-mini: $0.15/M input, $0.60/M output
      expect(context.record.costUsd).toBeCloseTo((promptTokens * 0.15 + completionTokens * 0.6) / 1e6, 15)
    })
  )

  it.effect("failed stream records estimated usage", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const messages = [{ role: "user" as const, content: "Write a poem about the sea." }]
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream: true, request: { model: "gpt-4o-mini", messages } })
      const streamedText = "The sea rolls in"

      yield* hooks.beforeRequest(context)
      yield* hooks.afterResponse(context, makeOutcome({ status: "error", httpStatus: 200, streamedText }))

      expect(context.record.estimatedUsage?.promptTokens).toBe(o200k.encodeChat(messages, "gpt-4o").length)
      expect(context.record.estimatedUsage?.completionTokens).toBe(o200k.countTokens(streamedText))
      expect(context.record.costUsd).toBeGreaterThan(0)
    })
  )

  it.effect("failed stream without text: no usage", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ stream: true })

      yield* hooks.beforeRequest(context)
      yield* hooks.afterResponse(context, makeOutcome({ status: "error", httpStatus: 502, streamedText: "" }))

      expect(context.record.estimatedUsage).toBeUndefined()
      expect(context.record.costUsd).toBeUndefined()
    })
  )

  // A client that times out during a retry-after wait, or leaves before the response headers.
  for (const stream of [false, true]) {
    it.effect(`unanswered ${stream ? "stream" : "JSON request"}: no estimate`, () =>
      Effect.gen(function* () {
        const hooks = hooksOf(yield* Plugin)
        const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream })

        yield* hooks.beforeRequest(context)
        yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, upstreamResponded: false }))

        expect(context.record.estimatedUsage).toBeUndefined()
        expect(context.record.costUsd).toBeUndefined()
      })
    )
  }

  it.effect("started stream without text: prompt estimated", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream: true })

      yield* hooks.beforeRequest(context)
      yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, upstreamResponded: true }))

      expect(context.record.estimatedUsage?.promptTokens).toBe(o200k.encodeChat([{ role: "user", content: "Invent a holiday." }], "gpt-4o").length)
      expect(context.record.estimatedUsage?.completionTokens).toBe(0)
      expect(context.record.costUsd).toBeGreaterThan(0)
    })
  )

  it.effect("hook answer without upstream estimated", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18" })
      const response = { object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "Galaxy Day." } }] }

      yield* hooks.afterResponse(context, makeOutcome({ response, answeredByHook: true, upstreamResponded: false }))

      expect(context.record.estimatedUsage?.completionTokens).toBe(o200k.countTokens("Galaxy Day."))
      expect(context.record.costUsd).toBeGreaterThan(0)
    })
  )

  it.effect("outcome without upstreamResponded estimated", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ stream: true })
      const { upstreamResponded: _omitted, ...outcome } = makeOutcome({ status: "cancelled", httpStatus: 499, streamedText: "The sea" })

      yield* hooks.afterResponse(context, outcome)

      expect(context.record.estimatedUsage?.completionTokens).toBe(o200k.countTokens("The sea"))
    })
  )

  it.effect("stopped stream: delivered text counted", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ upstreamModel: "gpt-4o-mini-2024-07-18", stream: true })
      const streamedText = "The sea rolls in with silver light,\nand folds the harbor into night"
      const reported = { promptTokens: 1042, completionTokens: 0, cachedInputTokens: 1031, cacheWriteTokens: 0, reasoningTokens: 0 }

      yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, usage: reported, streamedText }))

      const completionTokens = o200k.countTokens(streamedText)
      expect(context.record.estimatedUsage).toEqual({ ...reported, completionTokens })
      // gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output
      expect(context.record.costUsd).toBeCloseTo((11 * 0.15 + 1031 * 0.075 + completionTokens * 0.6) / 1e6, 15)
    })
  )

  it.effect("stopped stream: running count kept", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ stream: true })
      // A running count below what the local tokenizer reads in the text, as Gemini's can be.
      const reported = { promptTokens: 20, completionTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
      const streamedText = "A text that the local tokenizer counts as more than two tokens."

      yield* hooks.afterResponse(context, makeOutcome({ status: "cancelled", httpStatus: 499, usage: reported, streamedText }))

      expect(context.record.estimatedUsage).toBeUndefined()
      expect(context.record.costUsd).toBeGreaterThan(0)
    })
  )

  it.effect("completed stream: reported usage trusted", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ stream: true })
      const reported = { promptTokens: 20, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }

      yield* hooks.afterResponse(context, makeOutcome({ usage: reported, streamedText: "A much longer text than one token." }))

      expect(context.record.estimatedUsage).toBeUndefined()
    })
  )

  it.effect("missing JSON usage counts the reply", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext({ upstreamModel: "gpt-4.1-nano" })
      const reply = "Galaxy Day celebrates the night sky."
      const response = { object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: reply } }] }

      yield* hooks.afterResponse(context, makeOutcome({ response }))

      expect(context.record.estimatedUsage?.promptTokens).toBe(
        o200k.encodeChat([{ role: "user", content: "Invent a holiday." }], "gpt-4o").length
      )
      expect(context.record.estimatedUsage?.completionTokens).toBe(o200k.countTokens(reply))
      expect(context.record.costUsd).toBeGreaterThan(0)
    })
  )

  it.effect("failed request records no cost", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const context = makeContext()

      yield* hooks.afterResponse(context, makeOutcome({ status: "error", httpStatus: 502 }))

      expect(context.record.estimatedUsage).toBeUndefined()
      expect(context.record.costUsd).toBeUndefined()
      expect(context.record.priceVersion).toBeUndefined()
    })
  )

  it.effect("logs no prompt text", () =>
    Effect.gen(function* () {
      const hooks = hooksOf(yield* Plugin)
      const logs = captureLogs()
      const secret = "my private diary entry about the acme merger"
      const context = makeContext({
        upstreamModel: "acme-private-1",
        request: { model: "acme-private-1", messages: [{ role: "user", content: secret }] }
      })

      yield* hooks.beforeRequest(context).pipe(Effect.provide(logs.layer))
      yield* hooks.afterResponse(context, makeOutcome({ streamedText: secret })).pipe(Effect.provide(logs.layer))

      expect(logs.entries.length).toBeGreaterThan(0)
      expect(JSON.stringify(logs.entries)).not.toContain("diary")
    })
  )
})

describe("analyzer options", () => {
  it.scopedLive("overrides win over the shipped table", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        analyzerLayer({ pricing: { overrides: { "gpt-4.1-nano": { input: 1, output: 2 }, "acme-large-1": { input: 3, output: 4 } } } })
      )
      const hooks = hooksOf(Context.get(context, Plugin))
      const usage = openAIUsageOf("openai/chat-completions/text.json")
      const overridden = makeContext({ upstreamModel: "gpt-4.1-nano-2025-04-14" })
      const added = makeContext({ upstreamModel: "acme/acme-large-1" })

      yield* hooks.afterResponse(overridden, makeOutcome({ usage }))
      yield* hooks.afterResponse(added, makeOutcome({ usage }))

      // 16 × $1 + 363 × $2, and 16 × $3 + 363 × $4, per million tokens
      expect(overridden.record.costUsd).toBeCloseTo(0.000742, 15)
      expect(added.record.costUsd).toBeCloseTo(0.0015, 15)
    })
  )

  it.scopedLive("missing cacheWrite1h price warns once", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const context = yield* Layer.build(
        analyzerLayer({ pricing: { overrides: { "acme-cached-2": { input: 2, cacheWrite: 2.5, output: 8 } } } })
      )
      const hooks = hooksOf(Context.get(context, Plugin))
      const usage: Usage = { promptTokens: 1000, completionTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 1000, cacheWrite1hTokens: 400, reasoningTokens: 0 }
      const first = makeContext({ upstreamModel: "acme-cached-2" })
      const second = makeContext({ upstreamModel: "acme-cached-2" })

      yield* hooks.afterResponse(first, makeOutcome({ usage })).pipe(Effect.provide(logs.layer))
      yield* hooks.afterResponse(second, makeOutcome({ usage })).pipe(Effect.provide(logs.layer))

      // All 1000 written tokens at the cacheWrite price of $2.5 per million
      expect(first.record.costUsd).toBeCloseTo(0.0025, 15)
      const warnings = logs.entries.filter((entry) => entry.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.annotations.model).toBe("acme-cached-2")
      expect(warnings[0]?.message).toMatch(/no cacheWrite1h price/)
      expect(warnings[0]?.message).toContain("config.pricing.overrides of the analyzer's entry in plugins")
      expect(warnings[0]?.message).not.toContain("fluxen.yaml")
    })
  )

  it.scopedLive("estimatePromptTokens false skips counting", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(analyzerLayer({ estimatePromptTokens: false }))
      const hooks = hooksOf(Context.get(context, Plugin))
      const request = makeContext()

      yield* hooks.beforeRequest(request)

      expect(request.record.promptTokensEstimate).toBeUndefined()
    })
  )
})
