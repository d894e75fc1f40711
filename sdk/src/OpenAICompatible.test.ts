import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { ChatRequest, CompletionRequest, ResponsesRequest } from "./ChatRequest.js"
import { UpstreamProtocolError, type UpstreamHttpError } from "./Errors.js"
import { upstreamSecrets } from "./UpstreamErrors.js"
import type { HttpTransportService, UpstreamResponse } from "./HttpTransport.js"
import { attachCancelNotice, type CancelNotice } from "./CancelNotice.js"
import { eventBatchesOf, streamChunksOf } from "./EventBatches.js"
import { LazyStreamEvent } from "./LazyStreamEvent.js"
import { SseBytes } from "./SseBytes.js"
import { makeOpenAICompatibleAdapter } from "./OpenAICompatible.js"
import type { CallContext, JsonResult, StreamEvent, StreamResult } from "./Provider.js"

const encoder = new TextEncoder()

/** A transport that returns `text` as the JSON body of every response. */
const answering = (text: string): HttpTransportService => ({
  send: async (): Promise<UpstreamResponse> => ({
    status: 200,
    headers: { "content-type": "application/json" },
    body: (async function* () {
      yield encoder.encode(text)
    })(),
    bytes: async () => encoder.encode(text),
    discard: () => {}
  })
})

const context: CallContext = {
  requestId: "req",
  upstreamModel: "gpt-4o-mini",
  signal: new AbortController().signal,
  idleTimeoutMs: 1_000,
  clientHeaders: { get: () => undefined }
}

const request = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] } as unknown as ChatRequest

const chat = (text: string) =>
  Effect.runPromiseExit(makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, answering(text)).chat(request, context))

describe("OpenAI-compatible JSON answers", () => {
  it("chat result: lazy body and usage", async () => {
    const body = { id: "c1", choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }
    const exit = await chat(JSON.stringify(body))
    expect(Exit.isSuccess(exit)).toBe(true)
    const result = (exit as Exit.Success<JsonResult, never>).value
    expect(result.usage).toMatchObject({ promptTokens: 9, completionTokens: 2 })
    expect(result.body).toEqual(body)
    expect(result.body).toBe(result.body)
    expect(new TextDecoder().decode(result.bytes)).toBe(JSON.stringify(body))
  })

  it("chat result: body without usage, not JSON", async () => {
    const exit = await chat("<html>bad gateway</html>")
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toContain("UpstreamProtocolError")
  })

  it("chat result: invalid body around usage", async () => {
    const exit = await chat('{"choices":[{,"usage":{"prompt_tokens":1,"completion_tokens":1}}')
    expect(Exit.isSuccess(exit)).toBe(true)
    const result = (exit as Exit.Success<JsonResult, never>).value
    expect(result.usage).toMatchObject({ promptTokens: 1 })
    expect(() => result.body).toThrow(UpstreamProtocolError)
  })
})

/** Makes a transport that sends `reads` as the body of a stream, one network read each, and counts the reads taken and the discards. */
const streaming = (reads: ReadonlyArray<string>) => {
  const counts = { discards: 0, reads: 0 }
  const transport: HttpTransportService = {
    send: async (): Promise<UpstreamResponse> => ({
      status: 200,
      headers: { "content-type": "text/event-stream" },
      body: (async function* () {
        for (const read of reads) {
          counts.reads++
          yield encoder.encode(read)
        }
      })(),
      bytes: async () => encoder.encode(reads.join("")),
      discard: () => {
        counts.discards++
      }
    })
  }
  return { transport, counts }
}

const chatStream = async (transport: HttpTransportService): Promise<StreamResult> =>
  Effect.runPromise(makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport).chatStream(request, context))

const delta = (content: string) => `data: {"choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}]}\n\n`
const finish = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'

/** Reads every batch and returns the batches' data with the error that ended them, if any. */
const readBatches = async (result: StreamResult) => {
  const iterator = eventBatchesOf(result.events)!
  const batches: Array<Array<string>> = []
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      batches.push(next.value.map((event: StreamEvent) => event.data))
    }
    return { batches, error: undefined }
  } catch (error) {
    return { batches, error }
  }
}

/** Reads every chunk and returns each as its text and event count when it contains bytes, or as its events' data. */
const readChunks = async (result: StreamResult) => {
  const iterator = streamChunksOf(result.events)!
  const chunks: Array<{ bytes: string; events: number } | { data: Array<string> }> = []
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const chunk = next.value
      chunks.push(
        chunk instanceof SseBytes
          ? { bytes: new TextDecoder().decode(chunk.bytes), events: chunk.eventCount }
          : { data: chunk.map((event: StreamEvent) => event.data) }
      )
    }
    return { chunks, error: undefined }
  } catch (error) {
    return { chunks, error }
  }
}

/** Starts a chat stream and returns its failure, or undefined when it started. */
const startFailure = async (transport: HttpTransportService) => {
  const exit = await Effect.runPromiseExit(makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport).chatStream(request, context))
  return Exit.isFailure(exit) ? Cause.failureOption(exit.cause).pipe(Option.getOrUndefined) : undefined
}

describe("OpenAI-compatible tool call deltas", () => {
  const mistralCall = 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"gSIMJiOkT","function":{"name":"weather","arguments":"{}"}}]},"finish_reason":null}]}\n\n'

  const relayedCalls = async (completeToolCallDeltas: boolean) => {
    const adapter = makeOpenAICompatibleAdapter({ provider: "mistral", baseUrl: "http://127.0.0.1:9/v1", completeToolCallDeltas }, streaming([mistralCall + finish]).transport)
    const result = await Effect.runPromise(adapter.chatStream(request, context))
    const data: Array<string> = []
    for await (const event of result.events) data.push(event.data)
    return JSON.parse(data[0]!).choices[0].delta.tool_calls
  }

  it("missing fields: filled in", async () => {
    expect(await relayedCalls(true)).toEqual([{ id: "gSIMJiOkT", index: 0, type: "function", function: { name: "weather", arguments: "{}" } }])
  })

  it("option off: chunk as sent", async () => {
    expect(await relayedCalls(false)).toEqual([{ id: "gSIMJiOkT", function: { name: "weather", arguments: "{}" } }])
  })
})

describe("OpenAI-compatible stream requests", () => {
  /** Starts a chat stream with `streamUsage` and returns the JSON body the upstream received. */
  const sentBody = async (streamUsage: boolean, streamOptions: unknown) => {
    let body: unknown
    const { transport } = streaming([delta("a") + finish])
    const recording: HttpTransportService = {
      send: (upstreamRequest) => {
        body = JSON.parse(upstreamRequest.body as string)
        return transport.send(upstreamRequest)
      }
    }
    const adapter = makeOpenAICompatibleAdapter({ provider: "mistral", baseUrl: "http://127.0.0.1:9/v1", streamUsage }, recording)
    await Effect.runPromise(adapter.chatStream({ ...request, stream: true, stream_options: streamOptions } as ChatRequest, context))
    return body as { stream_options?: unknown }
  }

  it("stream usage: asked for", async () => {
    expect((await sentBody(true, undefined)).stream_options).toEqual({ include_usage: true })
    expect((await sentBody(true, { include_usage: false })).stream_options).toEqual({ include_usage: true })
  })

  it("no stream usage: options left out", async () => {
    expect(await sentBody(false, { include_usage: true })).not.toHaveProperty("stream_options")
    expect(await sentBody(false, undefined)).not.toHaveProperty("stream_options")
  })
})

describe("OpenAI-compatible streams", () => {
  it("batches: one per network read", async () => {
    const reads = [delta("a") + delta("b"), delta("c") + finish + "data: [DONE]\n\n"]
    const { batches, error } = await readBatches(await chatStream(streaming(reads).transport))
    const events: Array<string> = []
    for await (const event of (await chatStream(streaming(reads).transport)).events) events.push(event.data)

    expect(error).toBeUndefined()
    // The plain events that start a read make one chunk, and `[DONE]` after them another.
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1])
    expect(batches.flat()).toEqual(events)
  })

  it("chunks: plain events stay bytes", async () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
    const reads = [delta("a") + delta("b"), delta("c") + finish + usage + "data: [DONE]\n\n"]
    const chunks = await readChunks(await chatStream(streaming(reads).transport))

    expect(chunks.error).toBeUndefined()
    expect(chunks.chunks).toEqual([
      { bytes: reads[0], events: 2 },
      { bytes: delta("c") + finish, events: 2 },
      { data: [usage.slice("data: ".length, -2), "[DONE]"] }
    ])
  })

  it("chunks: parsed read after cut event", async () => {
    const reads = [delta("a") + delta("b").slice(0, 20), delta("b").slice(20) + finish + "data: [DONE]\n\n"]
    const chunks = await readChunks(await chatStream(streaming(reads).transport))

    // The second read starts inside an event, so the parser takes the whole read.
    expect(chunks.chunks).toEqual([
      { bytes: delta("a"), events: 1 },
      { data: [delta("b"), finish].map((text) => text.slice("data: ".length, -2)).concat("[DONE]") }
    ])
  })

  it("chunks: bytes parse to the same events", async () => {
    const result = await chatStream(streaming([delta("a") + delta("b") + finish + "data: [DONE]\n\n"]).transport)
    const chunk = (await streamChunksOf(result.events)!.next()).value as SseBytes

    const events = chunk.events()
    expect(events.map((event) => event.json)).toEqual([delta("a"), delta("b"), finish].map((text) => JSON.parse(text.slice("data: ".length, -2))))
    expect(events[0]).toBeInstanceOf(LazyStreamEvent)
  })

  it("chunks: finish in bytes ends stream", async () => {
    const { chunks, error } = await readChunks(await chatStream(streaming([delta("a") + finish]).transport))

    expect(error).toBeUndefined()
    expect(chunks).toEqual([{ bytes: delta("a") + finish, events: 2 }])
  })

  it("batches: events before an error event come first", async () => {
    const reads = [delta("a") + 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n' + delta("b")]
    const { transport, counts } = streaming(reads)
    const { batches, error } = await readBatches(await chatStream(transport))

    expect(batches).toEqual([[delta("a").slice("data: ".length, -2)]])
    expect(error).toMatchObject({ _tag: "UpstreamHttpError" })
    expect(counts.discards).toBe(1)
  })

  it("batches: cut stream fails last", async () => {
    const { batches, error } = await readBatches(await chatStream(streaming([delta("a")]).transport))

    expect(batches).toHaveLength(1)
    expect(String(error)).toContain("ended before the answer was complete")
  })

  it("finish chunk: ends without a parse", async () => {
    const events: Array<StreamEvent> = []
    for await (const event of (await chatStream(streaming([delta("a") + finish]).transport)).events) events.push(event)

    expect(events).toHaveLength(2)
    expect(events[1]).toBeInstanceOf(LazyStreamEvent)
    expect(events[1]!.json).toEqual({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })
  })

  it("finish chunk: empty reason ends nothing", async () => {
    const emptyFinish = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":""}]}\n\n'
    const { error } = await readBatches(await chatStream(streaming([delta("a") + emptyFinish]).transport))

    expect(String(error)).toContain("ended before the answer was complete")
  })

  it("finish chunk with usage: parsed", async () => {
    const closing = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
    const events: Array<StreamEvent> = []
    for await (const event of (await chatStream(streaming([delta("a") + closing]).transport)).events) events.push(event)

    expect(events[1]).not.toBeInstanceOf(LazyStreamEvent)
    expect(events[1]!.usage).toMatchObject({ promptTokens: 3, completionTokens: 1 })
  })
})

describe("OpenAI-compatible stream start", () => {
  const errorEvent = 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n'
  const keepAlive = ": OPENROUTER PROCESSING\n\n"

  it("first event error: call fails", async () => {
    const { transport, counts } = streaming([errorEvent, delta("a") + finish])

    const failure = await startFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 500, streamEvent: true })
    expect((failure as UpstreamHttpError).error.message).toBe("The server had an error while processing your request.")
    expect(counts.discards).toBe(1)
    expect(counts.reads).toBe(1)
  })

  it("comment read: start read continues", async () => {
    const { transport, counts } = streaming([keepAlive, keepAlive + errorEvent])

    const failure = await startFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", streamEvent: true })
    expect(counts.reads).toBe(2)
    expect(counts.discards).toBe(1)
  })

  it("start read: stops at first event", async () => {
    const reads = [keepAlive, delta("a") + delta("b"), delta("c") + finish + "data: [DONE]\n\n"]
    const { transport, counts } = streaming(reads)

    const result = await chatStream(transport)
    const readsAtStart = counts.reads
    const { batches, error } = await readBatches(result)

    expect(readsAtStart).toBe(2)
    expect(error).toBeUndefined()
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1])
    expect(counts.discards).toBe(0)
  })

  it("error after first chunk: in stream", async () => {
    const { transport, counts } = streaming([delta("a"), errorEvent])

    const result = await chatStream(transport)
    const { batches, error } = await readBatches(result)

    expect(batches).toEqual([[delta("a").slice("data: ".length, -2)]])
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", streamEvent: true })
    expect(counts.discards).toBe(1)
  })

  it("events read one at a time", async () => {
    const result = await chatStream(streaming([keepAlive, delta("a"), delta("b") + finish]).transport)
    const data: Array<string> = []
    for await (const event of result.events) data.push(event.data)

    expect(data).toEqual([delta("a"), delta("b"), finish].map((text) => text.slice("data: ".length, -2)))
  })

  it("closing unread stream: discards", async () => {
    const { transport, counts } = streaming([delta("a"), delta("b") + finish])

    const result = await chatStream(transport)
    await eventBatchesOf(result.events)!.return?.()

    expect(counts.discards).toBe(1)
  })

  it("stream ending before any event: call fails", async () => {
    const failure = await startFailure(streaming([keepAlive]).transport)

    expect(failure).toMatchObject({ _tag: "UpstreamUnreachableError" })
  })

  it("completions first event error: call fails", async () => {
    const { transport, counts } = streaming([errorEvent])
    const adapter = makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport)
    const completion = { model: "gpt-3.5-turbo-instruct", prompt: "Hi", stream: true } as unknown as CompletionRequest

    const exit = await Effect.runPromiseExit(adapter.passthrough!("completions", completion, context))

    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toContain("UpstreamHttpError")
    expect(counts.discards).toBe(1)
  })
})

describe("OpenAI-compatible in-band error shapes", () => {
  // OpenRouter ends a stream that failed with one chunk carrying both `choices` and `error`.
  const failedChunk = (code: number | string) =>
    `data: ${JSON.stringify({
      id: "gen-1",
      object: "chat.completion.chunk",
      model: "openai/gpt-4o-mini",
      error: { code, message: "Upstream provider connection lost" },
      choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }]
    })}\n\n`
  const errorFinish = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}\n\n'
  // vLLM's error object before v0.10.1, without the `error` envelope.
  const flatError = 'data: {"object":"error","message":"The model `llama` does not exist.","type":"NotFoundError","param":null,"code":404}\n\n'

  it("error chunk first: call fails", async () => {
    const { transport, counts } = streaming([": OPENROUTER PROCESSING\n\n", failedChunk(502), delta("a") + finish])

    const failure = await startFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 502, streamEvent: true })
    expect((failure as UpstreamHttpError).error).toEqual({ message: "Upstream provider connection lost", type: "api_error", param: null, code: 502 })
    expect(counts.discards).toBe(1)
  })

  it("error chunk after text: stream fails", async () => {
    const { transport, counts } = streaming([delta("a"), failedChunk(502)])

    const { batches, error } = await readBatches(await chatStream(transport))

    expect(batches).toEqual([[delta("a").slice("data: ".length, -2)]])
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 502, streamEvent: true })
    expect(counts.discards).toBe(1)
  })

  it("error chunk, string code: status 500", async () => {
    const { error } = await readBatches(await chatStream(streaming([delta("a"), failedChunk("server_error")]).transport))

    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 500 })
    expect((error as UpstreamHttpError).error.code).toBe("server_error")
  })

  it("error finish reason alone: fails", async () => {
    const { batches, error } = await readBatches(await chatStream(streaming([delta("a") + errorFinish]).transport))

    expect(batches).toEqual([[delta("a").slice("data: ".length, -2)]])
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 500, streamEvent: true })
    expect((error as UpstreamHttpError).error.message).toBe("The upstream reported an error in the stream.")
  })

  it("null error with stop: completes", async () => {
    const closing = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"error":null}\n\n'

    const { batches, error } = await readBatches(await chatStream(streaming([delta("a") + closing]).transport))

    expect(error).toBeUndefined()
    expect(batches.flat()).toHaveLength(2)
  })

  it("vLLM flat error first: call fails", async () => {
    const { transport, counts } = streaming([flatError])

    const failure = await startFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 404, streamEvent: true })
    expect((failure as UpstreamHttpError).error).toEqual({ message: "The model `llama` does not exist.", type: "NotFoundError", param: null, code: 404 })
    expect(counts.discards).toBe(1)
  })

  it("vLLM flat error after text: stream fails", async () => {
    const { batches, error } = await readBatches(await chatStream(streaming([delta("a"), flatError]).transport))

    expect(batches).toHaveLength(1)
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 404, streamEvent: true })
  })
})

describe("OpenAI-compatible Responses stream start", () => {
  const created =
    'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","error":null,"output":[]}}\n\n'
  const failed = (error: unknown) =>
    `event: response.failed\ndata: ${JSON.stringify({ type: "response.failed", sequence_number: 0, response: { id: "resp_1", object: "response", status: "failed", error, output: [] } })}\n\n`
  const errorEvent = (payload: Record<string, unknown>) => `event: error\ndata: ${JSON.stringify({ type: "error", sequence_number: 0, ...payload })}\n\n`
  const rateLimited = errorEvent({ code: "rate_limit_exceeded", message: "Rate limit reached for requests.", param: null })
  const responsesRequest = { model: "gpt-4.1", input: "Hi", stream: true } as unknown as ResponsesRequest

  const responses = (transport: HttpTransportService, apiKey?: string) =>
    Effect.runPromiseExit(
      makeOpenAICompatibleAdapter(
        { provider: "openai", baseUrl: "http://127.0.0.1:9/v1", apiKey: apiKey === undefined ? undefined : Redacted.make(apiKey) },
        transport
      ).passthrough!("responses", responsesRequest, context)
    )

  const responsesStartFailure = async (transport: HttpTransportService, apiKey?: string) => {
    const exit = await responses(transport, apiKey)
    return Exit.isFailure(exit) ? Cause.failureOption(exit.cause).pipe(Option.getOrUndefined) : undefined
  }

  /** Reads a started Responses stream to its end and returns its events' names. */
  const eventNames = async (transport: HttpTransportService) => {
    const exit = await responses(transport)
    if (!Exit.isSuccess(exit) || exit.value._tag !== "Stream") throw new Error("Expected a started stream")
    const names: Array<string | undefined> = []
    for await (const event of exit.value.events) names.push(event.event)
    return names
  }

  it("error event first: call fails", async () => {
    const { transport, counts } = streaming([rateLimited, created])

    const failure = await responsesStartFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 429, streamEvent: true })
    expect((failure as UpstreamHttpError).error).toEqual({ message: "Rate limit reached for requests.", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" })
    expect(counts.reads).toBe(1)
    expect(counts.discards).toBe(1)
  })

  it("nested error event first: its type", async () => {
    const nested = errorEvent({ error: { type: "invalid_request_error", code: "context_length_exceeded", message: "Input too long.", param: "input" } })

    const failure = await responsesStartFailure(streaming([nested]).transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 400 })
    expect((failure as UpstreamHttpError).error).toEqual({ message: "Input too long.", type: "invalid_request_error", param: "input", code: "context_length_exceeded" })
  })

  it("failed response first: call fails", async () => {
    const { transport, counts } = streaming([failed({ code: "server_error", message: "The server had an error." })])

    const failure = await responsesStartFailure(transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 500, streamEvent: true })
    expect((failure as UpstreamHttpError).error).toEqual({ message: "The server had an error.", type: "api_error", param: null, code: "server_error" })
    expect(counts.discards).toBe(1)
  })

  it("failed response, prompt code: 400", async () => {
    const failure = await responsesStartFailure(streaming([failed({ code: "invalid_prompt", message: "The prompt was rejected." })]).transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 400 })
  })

  it("failed response, null error: 500", async () => {
    const failure = await responsesStartFailure(streaming([failed(null)]).transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 500 })
    expect((failure as UpstreamHttpError).error.message).toBe("The upstream reported that the response failed.")
  })

  it("error envelope first: call fails", async () => {
    const failure = await responsesStartFailure(streaming(['data: {"error":{"message":"Overloaded","type":"server_error","code":null}}\n\n']).transport)

    expect(failure).toMatchObject({ _tag: "UpstreamHttpError", status: 500, streamEvent: true })
  })

  it("first error message: key redacted", async () => {
    const quoting = errorEvent({ code: "server_error", message: "Failed for key sk-responses-test-key.", param: null })

    const failure = await responsesStartFailure(streaming([quoting]).transport, "sk-responses-test-key")

    expect((failure as UpstreamHttpError).error.message).toBe("Failed for key [redacted].")
  })

  it("error after first event: passes through", async () => {
    expect(await eventNames(streaming([created, rateLimited]).transport)).toEqual(["response.created", "error"])
  })

  it("failure after first event: passes through", async () => {
    const names = await eventNames(streaming([created + failed({ code: "server_error", message: "The server had an error." })]).transport)

    expect(names).toEqual(["response.created", "response.failed"])
  })
})

describe("OpenAI-compatible request bodies", () => {
  /** Sends `sent` as a chat to the upstream model `upstreamModel`, and returns the body the transport received. */
  const upstreamBody = async (sent: ChatRequest, upstreamModel: string) => {
    let body: string | undefined
    const transport: HttpTransportService = {
      send: async (request) => {
        body = request.body as string
        return answering('{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}').send(request)
      }
    }
    const adapter = makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport)
    await Effect.runPromise(adapter.chat(sent, { ...context, upstreamModel }))
    return JSON.parse(body!) as Record<string, unknown>
  }

  it("chat body: sent unchanged", async () => {
    const sent = { ...request, stream: false } as ChatRequest

    expect(await upstreamBody(sent, "gpt-4o-mini")).toEqual(sent)
  })

  it("chat body: stream false added", async () => {
    expect(await upstreamBody(request, "gpt-4o-mini")).toEqual({ ...request, stream: false })
  })

  it("chat body: model renamed", async () => {
    const body = await upstreamBody({ ...request, stream: null } as unknown as ChatRequest, "gpt-4.1-nano")

    expect(body.model).toBe("gpt-4.1-nano")
    expect(body.stream).toBe(false)
    expect(body.messages).toEqual(request.messages)
  })
})

describe("OpenAI-compatible cancellation", () => {
  /** Sends a chat with `callContext` and returns the `cancel` and `signal` of the transport request. */
  const sentRequest = async (callContext: CallContext) => {
    let sent: { cancel: CancelNotice | undefined; signal: AbortSignal } | undefined
    const transport: HttpTransportService = {
      send: async (request) => {
        sent = { cancel: request.cancel, get signal() { return request.signal } }
        return answering('{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}').send(request)
      }
    }
    const adapter = makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport)
    await Effect.runPromise(adapter.chat(request, callContext))
    return sent!
  }

  const notice: CancelNotice = { cancelled: () => false, watch: () => () => {} }

  it("host context: notice passed, signal unread", async () => {
    let signalReads = 0
    const hostContext = attachCancelNotice(
      {
        ...context,
        get signal() {
          signalReads++
          return context.signal
        }
      },
      notice
    )

    const sent = await sentRequest(hostContext)

    expect(sent.cancel).toBe(notice)
    expect(signalReads).toBe(0)
  })

  it("copied context: own signal obeyed", async () => {
    const hostContext = attachCancelNotice({ ...context }, notice)
    const deadline = new AbortController().signal

    const sent = await sentRequest({ ...hostContext, signal: deadline })

    expect(sent.cancel).toBeUndefined()
    expect(sent.signal).toBe(deadline)
  })

  it("derived context: own signal obeyed", async () => {
    const hostContext = attachCancelNotice({ ...context }, notice)
    const deadline = new AbortController().signal

    const sent = await sentRequest(Object.create(hostContext, { signal: { value: deadline } }) as CallContext)

    expect(sent.cancel).toBeUndefined()
    expect(sent.signal).toBe(deadline)
  })
})

// A getter made per call would keep the request's objects alive until a full collection, so the
// lazy fields share their getters.
describe("OpenAI-compatible lazy fields", () => {
  const getterOf = (target: object, name: string) => Object.getOwnPropertyDescriptor(target, name)?.get

  it("transport requests share the signal getter", async () => {
    const sent: Array<object> = []
    const transport: HttpTransportService = {
      send: async (upstreamRequest) => {
        sent.push(upstreamRequest)
        return answering('{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}').send(upstreamRequest)
      }
    }
    const adapter = makeOpenAICompatibleAdapter({ provider: "openai", baseUrl: "http://127.0.0.1:9/v1" }, transport)
    await Effect.runPromise(adapter.chat(request, context))
    await Effect.runPromise(adapter.chat(request, context))

    expect(getterOf(sent[0]!, "signal")).toBeTypeOf("function")
    expect(getterOf(sent[0]!, "signal")).toBe(getterOf(sent[1]!, "signal"))
  })

  it("JSON results share the body getter", async () => {
    const text = '{"id":"c1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
    const first = ((await chat(text)) as Exit.Success<JsonResult, never>).value
    const second = ((await chat(text)) as Exit.Success<JsonResult, never>).value

    expect(getterOf(first, "body")).toBeTypeOf("function")
    expect(getterOf(first, "body")).toBe(getterOf(second, "body"))
  })
})

describe("upstreamSecrets", () => {
  it("key and credential headers", () => {
    expect(upstreamSecrets("sk-1", { Authorization: "Bearer sk-2", "x-custom": "visible", "api-key": "k-3" })).toEqual(["sk-1", "Bearer sk-2", "sk-2", "k-3"])
    expect(upstreamSecrets(undefined)).toEqual([])
  })
})
