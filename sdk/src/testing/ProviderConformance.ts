/**
 * The provider conformance suite: the checks every provider plugin should
 * pass before it is published, run against the author's own recordings of
 * the upstream API. It registers its tests with the `describe`/`it`/`expect`
 * the author passes in, so it runs inside their own test project.
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { ChatRequest } from "../ChatRequest.js"
import type { ChatCompletionChunk } from "../ChatResponse.js"
import { ChatStreamAssembler } from "../ChatStreamAssembler.js"
import type { HttpTransportService } from "../HttpTransport.js"
import type { PluginDefinition } from "../Plugin.js"
import type { ProviderAdapter, StreamEvent, StreamResult } from "../Provider.js"
import { buildPlugin, makeCallContext, type BuildPluginOptions } from "./PluginHarness.js"
import { planWrites, isEventStream, recordingBytes, type Recording, type WritePattern } from "./Recording.js"
import { startReplayUpstream, type ReplayUpstream } from "./ReplayUpstream.js"
import type { ConformanceTestApi } from "./TestApi.js"

/** An upstream error response and the HTTP status the adapter must report for it. */
export interface ErrorCase {
  /** Names the case in the test title, e.g. `invalid API key`. */
  readonly name: string
  readonly recording: Recording
  readonly status: number
}

export interface ProviderRecordings {
  /** The response to a plain, non-streamed chat. */
  readonly chat: Recording
  /** The response to a streamed chat, as an event stream. */
  readonly stream: Recording
  /** The response to a non-streamed chat in which the model calls a tool. */
  readonly toolCall: Recording
  /** The response to a streamed chat in which the model calls a tool; optional. */
  readonly streamedToolCall?: Recording
  /** At least one error response. */
  readonly errors: ReadonlyArray<ErrorCase>
}

export interface ProviderConformanceOptions<Config> {
  readonly plugin: PluginDefinition<Config>
  /**
   * Returns the plugin's YAML `config` section for an upstream at `baseUrl`
   * (the replay server, `http://127.0.0.1:<port>`). It is decoded with the
   * plugin's `configSchema`, as the host does.
   */
  readonly config: (baseUrl: string) => unknown
  /** The model name the upstream expects, passed as `CallContext.upstreamModel`. */
  readonly upstreamModel: string
  readonly recordings: ProviderRecordings
  /** Values from the config (API keys) that must never appear in an error. */
  readonly secrets?: ReadonlyArray<string>
  /** Replaces the default requests; each must ask for what its recording answers. */
  readonly requests?: {
    readonly chat?: ChatRequest
    readonly stream?: ChatRequest
    readonly toolCall?: ChatRequest
    readonly streamedToolCall?: ChatRequest
  }
  /** Creates the transport for each test; default `makeFetchTransport()`. */
  readonly transport?: () => HttpTransportService
  /** Passed to `buildPlugin`, for plugins that need the gateway database. */
  readonly sqlLayer?: BuildPluginOptions["sqlLayer"]
  /** Each test's timeout, in milliseconds; default 10 000. */
  readonly testTimeoutMs?: number
}

/** The model name the default requests carry, as a client would send it before Fluxen's model mapping. */
export const CONFORMANCE_CLIENT_MODEL = "conformance-client-model"

/** The tool the default tool-call requests offer; a tool-call recording should call it. */
export const CONFORMANCE_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Returns the current weather in a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city name, e.g. Paris" } },
      required: ["city"]
    }
  }
} as const

const defaultChat: ChatRequest = {
  model: CONFORMANCE_CLIENT_MODEL,
  messages: [
    { role: "system", content: "You are a helpful assistant. Answer in one sentence." },
    { role: "user", content: "Say hello." }
  ],
  max_tokens: 64
}

const defaultToolCall: ChatRequest = {
  model: CONFORMANCE_CLIENT_MODEL,
  messages: [{ role: "user", content: "What is the weather in Paris?" }],
  tools: [CONFORMANCE_TOOL],
  tool_choice: "auto"
}

const streamed = (request: ChatRequest): ChatRequest => ({ ...request, stream: true, stream_options: { include_usage: true } })

const FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter", "function_call"]

/** Write patterns a streamed answer must survive unchanged: events can arrive split anywhere. */
const STREAM_WRITE_PATTERNS: ReadonlyArray<WritePattern> = ["whole", "per-event", { bytes: 1 }, { bytes: 7 }]

/** How long the adapter may take to close the upstream connection after a cancellation, in milliseconds. */
const CLOSE_WITHIN_MS = 2_000

type Expect = ConformanceTestApi["expect"]

const describeWrites = (pattern: WritePattern): string => (typeof pattern === "string" ? pattern : `${pattern.bytes}-byte writes`)

/** Runs an effect and returns its error, failing with a clear message when it succeeded or died. */
const failureOf = async <A, E>(effect: Effect.Effect<A, E>, what: string): Promise<E> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error(`${what} succeeded, but it should have failed.`)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    throw new Error(`${what} died instead of failing with a typed error (a thrown exception or defect):\n${Cause.pretty(exit.cause)}`)
  }
  return failure.value
}

const collectEvents = async (result: StreamResult): Promise<Array<StreamEvent>> => {
  const events: Array<StreamEvent> = []
  for await (const event of result.events) events.push(event)
  return events
}

/** Pulls from an iterator until it ends or throws; rejects when it does neither within `timeoutMs`. */
const drainWithin = async (iterator: AsyncIterator<StreamEvent>, timeoutMs: number): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`The stream did not end within ${timeoutMs} ms after it was cancelled.`)), timeoutMs)
  })
  const drain = async (): Promise<void> => {
    try {
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        // Events the adapter had already read may still arrive.
      }
    } catch {
      // Failing after a cancellation is one way to end.
    }
  }
  try {
    await Promise.race([drain(), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const chunksOf = (events: ReadonlyArray<StreamEvent>): Array<ChatCompletionChunk> =>
  events.filter((event) => event.done !== true).map((event) => event.json as ChatCompletionChunk)

const assemble = (events: ReadonlyArray<StreamEvent>) => {
  const assembler = new ChatStreamAssembler()
  for (const chunk of chunksOf(events)) assembler.add(chunk)
  return assembler.toCompletion()
}

const checkChunks = (expect: Expect, events: ReadonlyArray<StreamEvent>): void => {
  expect(events.length, "the stream has events").toBeGreaterThan(0)
  const last = events[events.length - 1]!
  expect(last.done, "the last event is the [DONE] terminator (done: true)").toBe(true)
  expect(last.data, "the terminator's data").toBe("[DONE]")
  expect(events.filter((event) => event.done === true).length, "the number of [DONE] events").toBe(1)

  for (const [index, event] of events.entries()) {
    if (event.done === true) continue
    const where = `event ${index}`
    expect(event.json, `${where} carries its parsed chunk in json`).toBeDefined()
    expect(JSON.parse(event.data), `${where}: data and json describe the same chunk`).toEqual(event.json)
    const chunk = event.json as ChatCompletionChunk
    expect(chunk.object, `${where}: object`).toBe("chat.completion.chunk")
    expect(typeof chunk.id, `${where}: id`).toBe("string")
    expect(typeof chunk.created, `${where}: created`).toBe("number")
    expect(typeof chunk.model, `${where}: model`).toBe("string")
    expect(Array.isArray(chunk.choices), `${where}: choices is an array`).toBe(true)
    for (const choice of chunk.choices) {
      expect(typeof choice.index, `${where}: choice index`).toBe("number")
      expect(typeof choice.delta, `${where}: choice delta`).toBe("object")
      if (choice.finish_reason !== null) expect(FINISH_REASONS, `${where}: finish_reason`).toContain(choice.finish_reason)
    }
    if (event.usageOnly === true) {
      expect(chunk.choices.length, `${where} is usage-only, so its choices are empty`).toBe(0)
      expect(event.usage, `${where} is usage-only, so it carries usage`).toBeDefined()
    }
  }

  const choices = chunksOf(events).flatMap((chunk) => chunk.choices)
  expect(choices.some((choice) => choice.delta.role === "assistant"), "a chunk has delta.role 'assistant'").toBe(true)
  expect(choices.some((choice) => choice.finish_reason !== null), "a chunk has a finish_reason").toBe(true)
}

const checkStreamUsage = (expect: Expect, events: ReadonlyArray<StreamEvent>): void => {
  const lastUsage = events.findLastIndex((event) => event.usage !== undefined)
  expect(lastUsage, "an event carries usage").toBeGreaterThan(-1)
  const lastFinish = events.findLastIndex((event) =>
    ((event.json as ChatCompletionChunk | undefined)?.choices ?? []).some((choice) => choice.finish_reason !== null)
  )
  expect(lastUsage >= lastFinish, "usage arrives with or after the finish_reason chunk").toBe(true)
  const event = events[lastUsage]!
  const usage = event.usage!
  expect(usage.promptTokens, "streamed usage: promptTokens").toBeGreaterThan(0)
  expect(usage.completionTokens, "streamed usage: completionTokens").toBeGreaterThan(0)
  const wireUsage = (event.json as ChatCompletionChunk | undefined)?.usage
  if (wireUsage !== undefined && wireUsage !== null) {
    expect(wireUsage.prompt_tokens, "the chunk's usage.prompt_tokens matches the usage Fluxen records").toBe(usage.promptTokens)
    expect(wireUsage.completion_tokens, "the chunk's usage.completion_tokens matches the usage Fluxen records").toBe(usage.completionTokens)
  }
}

const checkToolCalls = (expect: Expect, message: { readonly tool_calls?: ReadonlyArray<unknown> } | undefined, where: string): void => {
  const calls = (message?.tool_calls ?? []) as ReadonlyArray<{ id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } }>
  expect(calls.length, `${where}: tool_calls is not empty`).toBeGreaterThan(0)
  for (const [index, call] of calls.entries()) {
    expect(typeof call.id, `${where}: tool_calls[${index}].id`).toBe("string")
    expect(call.type, `${where}: tool_calls[${index}].type`).toBe("function")
    expect(typeof call.function?.name, `${where}: tool_calls[${index}].function.name`).toBe("string")
    expect(typeof call.function?.arguments, `${where}: tool_calls[${index}].function.arguments`).toBe("string")
    let parsed: unknown
    try {
      parsed = JSON.parse(call.function!.arguments as string)
    } catch {
      throw new Error(`${where}: tool_calls[${index}].function.arguments is not valid JSON: ${String(call.function?.arguments)}`)
    }
    expect(typeof parsed, `${where}: tool_calls[${index}] arguments are a JSON object`).toBe("object")
    expect(parsed, `${where}: tool_calls[${index}] arguments are not null`).not.toBe(null)
    expect(Array.isArray(parsed), `${where}: tool_calls[${index}] arguments are not an array`).toBe(false)
  }
}

const checkNoSecrets = (expect: Expect, error: unknown, secrets: ReadonlyArray<string>, where: string): void => {
  const texts = [String((error as { message?: unknown }).message), String(error), JSON.stringify(error)]
  for (const secret of secrets) {
    for (const text of texts) expect(text.includes(secret), `${where}: the error contains a secret from the config`).toBe(false)
  }
}

const eventCount = (recording: Recording): number =>
  planWrites(recordingBytes(recording), "per-event", isEventStream(recording.contentType ?? "application/json")).length

/**
 * Registers the provider conformance tests. Each test starts its own replay
 * server on 127.0.0.1, builds the plugin against it with a fetch-based
 * transport, and closes both when it ends.
 */
export const runProviderConformance = <Config>(test: ConformanceTestApi, options: ProviderConformanceOptions<Config>): void => {
  const { describe, it, expect } = test
  const { plugin, recordings } = options
  const secrets = (options.secrets ?? []).filter((secret) => secret.length > 0)
  const timeoutMs = options.testTimeoutMs ?? 10_000
  const chatRequest = options.requests?.chat ?? defaultChat
  const streamRequest = options.requests?.stream ?? streamed(chatRequest)
  const toolCallRequest = options.requests?.toolCall ?? defaultToolCall
  const streamedToolCallRequest = options.requests?.streamedToolCall ?? streamed(toolCallRequest)

  if (recordings.errors.length === 0) throw new Error("runProviderConformance needs at least one error recording in recordings.errors.")

  const withProvider = async <A>(body: (provider: ProviderAdapter, upstream: ReplayUpstream) => Promise<A>): Promise<A> => {
    const upstream = await startReplayUpstream()
    try {
      const built = await buildPlugin(plugin, options.config(upstream.url), {
        instanceName: "conformance",
        ...(options.transport === undefined ? {} : { transport: options.transport() }),
        ...(options.sqlLayer === undefined ? {} : { sqlLayer: options.sqlLayer })
      })
      try {
        const provider = built.instance.provider
        if (provider === undefined) throw new Error(`The plugin '${plugin.name}' built, but its PluginInstance has no provider.`)
        return await body(provider, upstream)
      } finally {
        await built.close()
      }
    } finally {
      await upstream.close()
    }
  }

  const context = (signal?: AbortSignal) => makeCallContext({ upstreamModel: options.upstreamModel, ...(signal === undefined ? {} : { signal }) })

  const streamOnce = (recording: Recording, request: ChatRequest, writes: WritePattern) =>
    withProvider(async (provider, upstream) => {
      upstream.enqueue({ recording, writes })
      const result = await Effect.runPromise(provider.chatStream(request, context()))
      return { status: result.status, events: await collectEvents(result) }
    })

  describe(`${plugin.name} provider conformance`, () => {
    it("builds and provides a provider adapter", async () => {
      await withProvider(async (provider) => {
        expect(typeof provider.chat, "provider.chat").toBe("function")
        expect(typeof provider.chatStream, "provider.chatStream").toBe("function")
        expect(typeof provider.embeddings, "provider.embeddings").toBe("function")
      })
    }, timeoutMs)

    describe("plain chat", () => {
      it("returns a canonical chat completion", async () => {
        await withProvider(async (provider, upstream) => {
          upstream.enqueue({ recording: recordings.chat })
          const result = await Effect.runPromise(provider.chat(chatRequest, context()))

          expect(result._tag, "result._tag").toBe("Json")
          expect(result.status, "result.status").toBe(200)
          const completion = result.body as Record<string, any>
          expect(completion.object, "object").toBe("chat.completion")
          expect(typeof completion.id, "id").toBe("string")
          expect(typeof completion.created, "created").toBe("number")
          expect(typeof completion.model, "model").toBe("string")
          expect(completion.choices?.length, "the number of choices").toBeGreaterThan(0)
          const choice = completion.choices[0]
          expect(choice.index, "choices[0].index").toBe(0)
          expect(choice.message?.role, "choices[0].message.role").toBe("assistant")
          expect(typeof choice.message?.content, "choices[0].message.content").toBe("string")
          expect(choice.message.content.length, "the length of choices[0].message.content").toBeGreaterThan(0)
          expect(FINISH_REASONS, "choices[0].finish_reason").toContain(choice.finish_reason)
        })
      }, timeoutMs)

      it("reports usage in the result and the body", async () => {
        await withProvider(async (provider, upstream) => {
          upstream.enqueue({ recording: recordings.chat })
          const result = await Effect.runPromise(provider.chat(chatRequest, context()))

          expect(result.usage, "result.usage").toBeDefined()
          expect(result.usage!.promptTokens, "usage.promptTokens").toBeGreaterThan(0)
          expect(result.usage!.completionTokens, "usage.completionTokens").toBeGreaterThan(0)
          const wire = (result.body as { usage?: Record<string, unknown> }).usage
          expect(wire, "the body's usage").toBeDefined()
          expect(wire!.prompt_tokens, "body usage.prompt_tokens matches the recorded usage").toBe(result.usage!.promptTokens)
          expect(wire!.completion_tokens, "body usage.completion_tokens matches the recorded usage").toBe(result.usage!.completionTokens)
          expect(wire!.total_tokens, "body usage.total_tokens").toBe(result.usage!.promptTokens + result.usage!.completionTokens)
        })
      }, timeoutMs)

      it("sends the upstream model and keeps secrets out of the URL", async () => {
        await withProvider(async (provider, upstream) => {
          upstream.enqueue({ recording: recordings.chat })
          await Effect.runPromise(provider.chat(chatRequest, context()))

          expect(upstream.requests.length, "the number of upstream requests").toBe(1)
          const sent = upstream.requests[0]!
          expect(`${sent.path}\n${sent.body}`, "the upstream request names CallContext.upstreamModel").toContain(options.upstreamModel)
          for (const secret of secrets) {
            expect(sent.path.includes(secret), "the upstream URL contains a secret").toBe(false)
            expect(Object.values(sent.headers).some((value) => value.includes(secret)), "a request header carries the API key").toBe(true)
          }
        })
      }, timeoutMs)
    })

    describe("streamed chat", () => {
      it("yields canonical chunks ending with [DONE]", async () => {
        const { status, events } = await streamOnce(recordings.stream, streamRequest, "per-event")
        expect(status, "result.status").toBe(200)
        checkChunks(expect, events)
        expect(assemble(events).choices[0]?.message.content ?? "", "the streamed text").not.toBe("")
      }, timeoutMs)

      it("reports usage on the final events", async () => {
        const { events } = await streamOnce(recordings.stream, streamRequest, "per-event")
        checkStreamUsage(expect, events)
      }, timeoutMs)

      it("gives the same answer for every write pattern", async () => {
        const results = []
        for (const pattern of STREAM_WRITE_PATTERNS) {
          const { events } = await streamOnce(recordings.stream, streamRequest, pattern)
          const lastUsage = events.findLast((event) => event.usage !== undefined)?.usage
          results.push({ pattern, choices: assemble(events).choices, usage: lastUsage })
        }
        const [reference, ...others] = results
        for (const other of others) {
          expect(other.choices, `choices with ${describeWrites(other.pattern)} match ${describeWrites(reference!.pattern)}`).toEqual(reference!.choices)
          expect(other.usage, `usage with ${describeWrites(other.pattern)} matches ${describeWrites(reference!.pattern)}`).toEqual(reference!.usage)
        }
      }, timeoutMs)

      it("closes the upstream connection when the signal aborts mid-stream", async () => {
        await withProvider(async (provider, upstream) => {
          // Every event but the last is sent, then the upstream goes silent, so
          // the exchange can only end by the client closing it.
          upstream.enqueue({ recording: recordings.stream, writes: "per-event", hangAfterWrites: Math.max(1, eventCount(recordings.stream) - 1) })
          const controller = new AbortController()
          const result = await Effect.runPromise(provider.chatStream(streamRequest, context(controller.signal)))
          const iterator = result.events[Symbol.asyncIterator]()
          const first = await iterator.next()
          expect(first.done, "the stream yields a first event").not.toBe(true)

          controller.abort()
          await upstream.waitForClientClose(0, CLOSE_WITHIN_MS)
          await drainWithin(iterator, CLOSE_WITHIN_MS)
        })
      }, timeoutMs)

      it("closes the upstream connection when iteration stops early", async () => {
        await withProvider(async (provider, upstream) => {
          upstream.enqueue({ recording: recordings.stream, writes: "per-event", hangAfterWrites: Math.max(1, eventCount(recordings.stream) - 1) })
          const result = await Effect.runPromise(provider.chatStream(streamRequest, context()))
          const iterator = result.events[Symbol.asyncIterator]()
          await iterator.next()

          await iterator.return?.()
          await upstream.waitForClientClose(0, CLOSE_WITHIN_MS)
        })
      }, timeoutMs)
    })

    describe("tool call", () => {
      it("returns tool_calls with JSON arguments", async () => {
        await withProvider(async (provider, upstream) => {
          upstream.enqueue({ recording: recordings.toolCall })
          const result = await Effect.runPromise(provider.chat(toolCallRequest, context()))

          const choice = (result.body as { choices?: Array<{ message?: { tool_calls?: ReadonlyArray<unknown> }; finish_reason?: unknown }> }).choices?.[0]
          checkToolCalls(expect, choice?.message, "choices[0].message")
          expect(choice?.finish_reason, "choices[0].finish_reason").toBe("tool_calls")
          const toolNames = (toolCallRequest.tools ?? []).map((tool) => tool.function?.name).filter((name) => name !== undefined)
          for (const name of toolNames) expect(upstream.requests[0]?.body ?? "", "the upstream request offers the tool").toContain(name)
        })
      }, timeoutMs)

      if (recordings.streamedToolCall !== undefined) {
        const recording = recordings.streamedToolCall
        it("streams tool_calls that assemble into JSON arguments", async () => {
          const { events } = await streamOnce(recording, streamedToolCallRequest, { bytes: 5 })
          checkChunks(expect, events)
          const choice = assemble(events).choices[0]
          checkToolCalls(expect, choice?.message, "the assembled message")
          expect(choice?.finish_reason, "the assembled finish_reason").toBe("tool_calls")
        }, timeoutMs)
      }
    })

    describe("errors", () => {
      for (const errorCase of recordings.errors) {
        it(`maps ${errorCase.name} to UpstreamHttpError ${errorCase.status}`, async () => {
          await withProvider(async (provider, upstream) => {
            upstream.enqueue({ recording: errorCase.recording })
            upstream.enqueue({ recording: errorCase.recording })

            const chatError = await failureOf(provider.chat(chatRequest, context()), "chat against an error response")
            expect((chatError as { _tag?: unknown })._tag, "chat error _tag").toBe("UpstreamHttpError")
            expect((chatError as { status?: unknown }).status, "chat error status").toBe(errorCase.status)
            checkNoSecrets(expect, chatError, secrets, "chat")

            // A stream must fail before it starts, so the host can still answer with the error status.
            const streamError = await failureOf(provider.chatStream(streamRequest, context()), "chatStream against an error response")
            expect((streamError as { _tag?: unknown })._tag, "chatStream error _tag").toBe("UpstreamHttpError")
            expect((streamError as { status?: unknown }).status, "chatStream error status").toBe(errorCase.status)
            checkNoSecrets(expect, streamError, secrets, "chatStream")
          })
        }, timeoutMs)
      }

      it("maps a refused connection to UpstreamUnreachableError", async () => {
        const closed = await startReplayUpstream()
        await closed.close()
        const built = await buildPlugin(plugin, options.config(closed.url), {
          instanceName: "conformance",
          ...(options.transport === undefined ? {} : { transport: options.transport() }),
          ...(options.sqlLayer === undefined ? {} : { sqlLayer: options.sqlLayer })
        })
        try {
          const error = await failureOf(built.instance.provider!.chat(chatRequest, context()), "chat against a closed port")
          expect((error as { _tag?: unknown })._tag, "error _tag").toBe("UpstreamUnreachableError")
          checkNoSecrets(expect, error, secrets, "chat")
        } finally {
          await built.close()
        }
      }, timeoutMs)
    })
  })
}
