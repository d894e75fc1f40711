import { batchedEvents, chunkedEvents, LazyStreamEvent, SseBytes, type StreamChunk, type StreamEvent, type StreamResult } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import type { Exchange } from "../http/Exchange.js"
import { makeStreamProgress, relayStream, streamedText } from "./relayStream.js"

const recordingExchange = () => {
  const written: Array<string> = []
  const writtenBytes: Array<Uint8Array> = []
  const exchange: Exchange = {
    method: "POST",
    path: "/v1/chat/completions",
    headers: { get: () => undefined },
    readBody: async () => new Uint8Array(),
    send: () => {},
    startStream: () => {},
    write: (chunk) => {
      if (typeof chunk !== "string") writtenBytes.push(chunk)
      written.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk))
      return undefined
    },
    end: () => {},
    headersSent: () => written.length > 0,
    departure: { cancelled: () => false, watch: () => () => {} },
    clientGone: new AbortController().signal
  }
  return { exchange, written, writtenBytes }
}

const chunk = (content: string) => new LazyStreamEvent({ data: JSON.stringify({ choices: [{ delta: { content }, finish_reason: null }] }) }, () => new Error("invalid"))

const resultOf = (events: ReadonlyArray<StreamEvent>): StreamResult => ({
  _tag: "Stream",
  status: 200,
  headers: {},
  events: (async function* () {
    yield* events
  })()
})

/** Makes a result like `resultOf`, with the events grouped in batches as an adapter's `batchedEvents` gives them. */
const batchedResultOf = (batches: ReadonlyArray<ReadonlyArray<StreamEvent>>, onClose: () => void = () => {}): StreamResult => ({
  _tag: "Stream",
  status: 200,
  headers: {},
  events: batchedEvents(async function* () {
    try {
      yield* batches
    } finally {
      onClose()
    }
  })
})

const options = { endpoint: "chat" as const, includeUsage: false, headers: {}, clientLeft: () => false }

const sseText = (content: string, finishReason: string | null = null) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finishReason }] })}\n\n`

/** Makes a result whose chunks are the SDK's `SseBytes` for each text given, or batches of events. */
const chunkedResultOf = (chunks: ReadonlyArray<string | ReadonlyArray<StreamEvent>>): StreamResult => ({
  _tag: "Stream",
  status: 200,
  headers: {},
  events: chunkedEvents(async function* (): AsyncGenerator<StreamChunk> {
    for (const chunk of chunks) {
      yield typeof chunk === "string" ? new SseBytes(new TextEncoder().encode(chunk), chunk.split("\n\n").length - 1, () => new Error("invalid")) : chunk
    }
  })
})

describe("relayStream", () => {
  it("long stream: text in batches", async () => {
    const words = Array.from({ length: 150 }, (_, index) => `w${index} `)
    const { exchange, written } = recordingExchange()
    const progress = makeStreamProgress(false)
    await relayStream(resultOf([...words.map(chunk), { data: "[DONE]", done: true }]), exchange, options, progress)
    expect(written).toHaveLength(151)
    // Two full batches were read while relaying, and the rest waits for a reader.
    expect(progress.textParts).toHaveLength(128)
    expect(progress.unread).toHaveLength(22)
    expect(streamedText("chat", progress)).toBe(words.join(""))
    expect(progress.unread).toHaveLength(0)
  })

  it("event not JSON: relayed, no text", async () => {
    const { exchange, written } = recordingExchange()
    const progress = makeStreamProgress(false)
    const broken = new LazyStreamEvent({ data: "{not json" }, () => new Error("invalid"))
    await relayStream(resultOf([chunk("a"), broken, chunk("b"), { data: "[DONE]", done: true }]), exchange, options, progress)
    expect(written[1]).toBe("data: {not json\n\n")
    expect(streamedText("chat", progress)).toBe("ab")
  })

  it("usage-only event: dropped, usage kept", async () => {
    const { exchange, written } = recordingExchange()
    const progress = makeStreamProgress(false)
    const usage = { promptTokens: 3, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
    const usageEvent: StreamEvent = { data: '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}', json: { choices: [] }, usage, usageOnly: true }
    await relayStream(resultOf([chunk("a"), usageEvent, { data: "[DONE]", done: true }]), exchange, options, progress)
    expect(written).toHaveLength(2)
    expect(progress.usage).toEqual(usage)
    expect(progress.completed).toBe(true)
  })

  it("batched events: relayed as one by one", async () => {
    const usage = { promptTokens: 3, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
    const usageEvent: StreamEvent = { data: '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}', json: { choices: [] }, usage, usageOnly: true }
    const batches = [[chunk("a"), chunk("b")], [chunk("c"), usageEvent, { data: "[DONE]", done: true }]]
    const single = recordingExchange()
    const batched = recordingExchange()
    const singleProgress = makeStreamProgress(false)
    const batchedProgress = makeStreamProgress(false)

    await relayStream(resultOf(batches.flat()), single.exchange, options, singleProgress)
    await relayStream(batchedResultOf(batches), batched.exchange, options, batchedProgress)

    expect(batched.written).toEqual(single.written)
    expect(batchedProgress.usage).toEqual(usage)
    expect(batchedProgress.completed).toBe(true)
    expect(streamedText("chat", batchedProgress)).toBe("abc")
  })

  it("response model: parsed events only", async () => {
    // Counts the reads of its payload, which would parse it.
    class CountingEvent extends LazyStreamEvent {
      reads = 0
      override get json(): unknown {
        this.reads++
        return super.json
      }
    }
    const lazy = new CountingEvent({ data: JSON.stringify({ model: "lazy-model", choices: [{ delta: { content: "a" } }] }) }, () => new Error("invalid"))
    const usage = { promptTokens: 3, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
    const usageEvent: StreamEvent = { data: "{}", json: { model: "gpt-4o-mini-2024-07-18", choices: [] }, usage, usageOnly: true }
    const later: StreamEvent = { data: "{}", json: { model: "other-model", choices: [] } }
    const progress = makeStreamProgress(false)

    await relayStream(resultOf([lazy, usageEvent, later, { data: "[DONE]", done: true }]), recordingExchange().exchange, options, progress)

    expect(progress.responseModel).toBe("gpt-4o-mini-2024-07-18")
    expect(lazy.reads).toBe(0)
  })

  it("response model: per endpoint", async () => {
    const messages = makeStreamProgress(false)
    const messageStart: StreamEvent = { event: "message_start", data: "{}", json: { type: "message_start", message: { model: "claude-sonnet-4-5-20250929" } } }
    await relayStream(resultOf([{ event: "ping", data: "{}", json: { type: "ping" } }, messageStart]), recordingExchange().exchange, { ...options, endpoint: "messages" }, messages)

    const responses = makeStreamProgress(false)
    const created: StreamEvent = { data: "{}", json: { type: "response.created", response: { model: "gpt-4.1-2025-04-14" } } }
    await relayStream(resultOf([created]), recordingExchange().exchange, { ...options, endpoint: "responses" }, responses)

    expect(messages.responseModel).toBe("claude-sonnet-4-5-20250929")
    expect(responses.responseModel).toBe("gpt-4.1-2025-04-14")
  })

  it("event bytes: relayed as they came", async () => {
    const { exchange, written, writtenBytes } = recordingExchange()
    const progress = makeStreamProgress(false)
    const plain = sseText("Hel") + sseText("lo", "stop")
    await relayStream(chunkedResultOf([plain, [{ data: "[DONE]", done: true }]]), exchange, options, progress)

    expect(written).toEqual([plain, "data: [DONE]\n\n"])
    expect(writtenBytes).toHaveLength(1)
    expect(progress.completed).toBe(true)
    expect(streamedText("chat", progress)).toBe("Hello")
  })

  it("event bytes: text read in batches", async () => {
    const { exchange } = recordingExchange()
    const progress = makeStreamProgress(false)
    // 40 events per chunk: the second chunk passes 64 events, so the text of both is read.
    const chunkText = (from: number) => Array.from({ length: 40 }, (_, index) => sseText(`w${from + index} `)).join("")
    await relayStream(chunkedResultOf([chunkText(0), chunkText(40), chunkText(80)]), exchange, options, progress)

    expect(progress.textParts).toHaveLength(80)
    expect(progress.unreadEvents).toBe(40)
    expect(streamedText("chat", progress)).toBe(Array.from({ length: 120 }, (_, index) => `w${index} `).join(""))
  })

  it("event bytes: parsed for an assembler", async () => {
    const { exchange, written, writtenBytes } = recordingExchange()
    const progress = makeStreamProgress(true)
    const plain = sseText("Hel") + sseText("lo", "stop")
    await relayStream(chunkedResultOf([plain]), exchange, options, progress)

    expect(writtenBytes).toHaveLength(0)
    expect(written.join("")).toBe(plain)
    expect(progress.assembler?.toCompletion()).toMatchObject({ choices: [{ message: { content: "Hello" }, finish_reason: "stop" }] })
  })

  it("batched events: client gone, upstream closed", async () => {
    const { exchange, written } = recordingExchange()
    let closed = false
    const progress = makeStreamProgress(false)
    // The client leaves once the first event reached it.
    const leaving = { ...options, clientLeft: () => written.length > 0 }
    const events = batchedResultOf([[chunk("a")], [chunk("b")], [{ data: "[DONE]", done: true }]], () => {
      closed = true
    })

    await relayStream(events, exchange, leaving, progress)

    expect(written).toHaveLength(1)
    expect(progress.completed).toBe(false)
    expect(closed).toBe(true)
  })
})
