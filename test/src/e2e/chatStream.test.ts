/**
 * Streamed chat completions through Fluxen with the OpenAI SDK. Each
 * recording is replayed with several network write patterns, and the client
 * must assemble the same text, tool calls and usage from every one of them.
 */
import { fileURLToPath } from "node:url"
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SEEN_RESPONSES, type SeenResponse } from "../support/completionPlugin.js"
import type { WritePattern } from "../support/replayUpstream.js"
import {
  chatFixtureText,
  fixtureText,
  NO_PLUGINS,
  postJson,
  requestIdOf,
  ssePayloads,
  startHarness,
  waitForRecord,
  type Harness
} from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk

const TEXT_WITH_USAGE = "openai/chat-completions/text-stream-usage.sse"
const TOOL_CALL_WITH_USAGE = "openai/chat-completions/tool-call-stream-usage.sse"
const TEXT_WITHOUT_USAGE = "openai/chat-completions/text-stream-no-usage.sse"

const writePatterns: ReadonlyArray<readonly [string, WritePattern]> = [
  ["single", "single"],
  ["per-event", "per-event"],
  ["1-byte", { bytes: 1 }],
  ["7-byte", { bytes: 7 }],
  ["64-byte", { bytes: 64 }]
]

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
})

afterAll(async () => {
  await harness?.close()
})

/** Streams one chat completion and returns every chunk the client received, with the gateway's request id. */
const streamChat = async (
  params: Omit<OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming, "stream">
): Promise<{ chunks: Array<ChatChunk>; requestId: string }> => {
  const { data: stream, response } = await harness.client.chat.completions.create({ ...params, stream: true }).withResponse()
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  return { chunks, requestId: requestIdOf(response.headers) }
}

const textOf = (chunks: ReadonlyArray<ChatChunk>): string =>
  chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("")

describe("chat stream text", () => {
  const expectedText = chatFixtureText(TEXT_WITH_USAGE)
  const receivedByPattern = new Map<string, Array<ChatChunk>>()

  it("reads the expected text from the fixture", () => {
    expect(expectedText).toBe("The capital of the UK is London.")
  })

  it.each(writePatterns)("assembles the recorded text from %s writes", async (name, writes) => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE, writes })

    const { chunks } = await streamChat({ model: "gpt-4o-mini", messages: question })
    receivedByPattern.set(name, chunks)

    expect(textOf(chunks)).toBe(expectedText)
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop")
  })

  it("delivers identical chunks for every write pattern", () => {
    expect([...receivedByPattern.keys()]).toEqual(writePatterns.map(([name]) => name))
    const reference = receivedByPattern.get("single")
    for (const [name, chunks] of receivedByPattern) {
      expect(chunks, `chunks received with ${name} writes`).toEqual(reference)
    }
  })
})

describe("chat stream usage", () => {
  it("hides the usage chunk from a client that did not request it", async () => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE })

    const { chunks } = await streamChat({ model: "gpt-4o-mini", messages: question })

    // The recording has 11 chunks, and the last one only carries usage.
    expect(ssePayloads(TEXT_WITH_USAGE)).toHaveLength(11)
    expect(chunks).toHaveLength(10)
    for (const chunk of chunks) {
      expect(chunk.choices.length).toBeGreaterThanOrEqual(1)
      expect(chunk.usage ?? null).toBeNull()
    }
  })

  it("asks the upstream for usage and records it", async () => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE })
    const before = harness.upstream.requests.length

    const { requestId } = await streamChat({ model: "gpt-4o-mini", messages: question })
    const record = await waitForRecord(harness.gateway, requestId)

    expect(harness.upstream.requests[before]!.json).toMatchObject({
      model: "gpt-4o-mini-2024-07-18",
      stream: true,
      stream_options: { include_usage: true }
    })
    expect(record.status).toBe("ok")
    expect(record.httpStatus).toBe(200)
    expect(record.stream).toBe(true)
    expect(record.resolvedModel).toBe("gpt-4o-mini-2024-07-18")
    expect(record.promptTokens).toBe(78)
    expect(record.completionTokens).toBe(9)
    expect(record.cachedInputTokens).toBe(0)
    expect(record.reasoningTokens).toBe(0)
    expect(record.usageEstimated).toBe(false)
    expect(record.firstByteMs).not.toBeNull()
  })

  it("sends the usage chunk to a client that requested it", async () => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE, writes: { bytes: 7 } })

    const { chunks } = await streamChat({ model: "gpt-4o-mini", messages: question, stream_options: { include_usage: true } })

    expect(chunks).toHaveLength(11)
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage?.prompt_tokens).toBe(78)
    expect(last.usage?.completion_tokens).toBe(9)
    expect(last.usage?.total_tokens).toBe(87)
    expect(textOf(chunks)).toBe("The capital of the UK is London.")
  })
})

describe("chat stream bytes", () => {
  it("relays the recording byte for byte when usage is requested", async () => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE, writes: { bytes: 7 } })

    const response = await postJson(harness.gateway, "/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages: question,
      stream: true,
      stream_options: { include_usage: true }
    })
    const body = Buffer.from(await response.arrayBuffer())

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    expect(body.toString("utf8")).toBe(fixtureText(TEXT_WITH_USAGE))
  })

  it("leaves out only the usage event when usage is not requested", async () => {
    harness.upstream.enqueue({ fixture: TEXT_WITH_USAGE })
    const recordedEvents = fixtureText(TEXT_WITH_USAGE).split("\n\n")
    const usageEvent = recordedEvents.findIndex((event) => event.includes('"choices":[]'))

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: question, stream: true })
    const body = await response.text()

    expect(usageEvent).toBe(recordedEvents.length - 3)
    expect(body).toBe(recordedEvents.filter((_event, index) => index !== usageEvent).join("\n\n"))
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true)
  })
})

describe("chat stream tool call", () => {
  it.each(writePatterns)("assembles the recorded tool call from %s writes", async (_name, writes) => {
    harness.upstream.enqueue({ fixture: TOOL_CALL_WITH_USAGE, writes })

    const { chunks, requestId } = await streamChat({
      model: "gpt-4o-mini",
      messages: question,
      tools: [{ type: "function", function: { name: "get_capital", parameters: { type: "object" } } }]
    })
    const record = await waitForRecord(harness.gateway, requestId)

    const calls = chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
    expect(calls.every((call) => call.index === 0)).toBe(true)
    expect(calls[0]!.id).toBe("call_ZR5UUuTt3pf61kjwAJIYdVMj")
    expect(calls.map((call) => call.function?.name ?? "").join("")).toBe("get_capital")
    expect(calls.map((call) => call.function?.arguments ?? "").join("")).toBe('{"country":"UK"}')
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("tool_calls")
    expect(record.promptTokens).toBe(53)
    expect(record.completionTokens).toBe(15)
  })
})

describe("chat stream without upstream usage", () => {
  it("keeps multi-byte characters split by 1-byte writes", async () => {
    const expectedText = chatFixtureText(TEXT_WITHOUT_USAGE)
    harness.upstream.enqueue({ fixture: TEXT_WITHOUT_USAGE, writes: { bytes: 1 } })

    const { chunks, requestId } = await streamChat({ model: "gpt-5-nano", messages: [{ role: "user", content: "Say hi" }] })
    const record = await waitForRecord(harness.gateway, requestId)

    expect(expectedText).toContain("\u2019")
    expect(textOf(chunks)).toBe(expectedText)
    expect(textOf(chunks)).not.toContain("\uFFFD")
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop")
    // Without the analyzer plugin nothing counts the tokens, so they stay unknown.
    expect(record.status).toBe("ok")
    expect(record.promptTokens).toBeNull()
    expect(record.completionTokens).toBeNull()
    expect(record.usageEstimated).toBe(false)
  })
})

describe("chat streams cut short", () => {
  let harness: Harness
  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS })
  })
  afterAll(async () => {
    await harness?.close()
  })

  it("records an error for a stream without [DONE] or a finish reason", async () => {
    const events = fixtureText("openai/chat-completions/text-stream-usage.sse").split("\n\n").slice(0, 4)
    harness.upstream.enqueue({ body: [...events, ""].join("\n\n"), headers: { "content-type": "text/event-stream" } })
    const stream = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    const failure = await (async () => {
      for await (const chunk of stream) void chunk
    })().then(
      () => "completed",
      (error: unknown) => (error as Error).message
    )
    expect(failure).not.toBe("completed")
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamUnreachableError")
  })

  it("records an error for an in-band error event", async () => {
    const first = fixtureText("openai/chat-completions/text-stream-usage.sse").split("\n\n").slice(0, 2)
    const inBand = `data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`
    harness.upstream.enqueue({ body: [...first, inBand, ""].join("\n\n"), headers: { "content-type": "text/event-stream" } })
    const stream = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    const failure = await (async () => {
      for await (const chunk of stream) void chunk
    })().then(
      () => "completed",
      (error: unknown) => (error as Error).message
    )
    expect(failure).toContain("The server had an error")
    const record = (await harness.gateway.usageRecords()).at(-1)!
    expect(record.status).toBe("error")
    expect(record.errorType).toBe("UpstreamHttpError")
  })
})

describe("hook stream with completion", () => {
  let replaying: Harness
  // The test gateway imports plugins by file path; tsc compiles the plugin into test/dist.
  const pluginPath = fileURLToPath(new URL("../../dist/support/completionPlugin.js", import.meta.url))
  const seen = () => (globalThis as { [SEEN_RESPONSES]?: Array<SeenResponse> })[SEEN_RESPONSES] ?? []

  beforeAll(async () => {
    replaying = await startHarness({ pluginsYaml: `plugins:\n  - use: ${JSON.stringify(pluginPath)}\n` })
  })

  afterAll(async () => {
    await replaying?.close()
  })

  it("after hooks get that completion", async () => {
    const stream = await replaying.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    const record = (await replaying.gateway.usageRecords()).at(-1)!

    expect(text).toBe("A stored answer.")
    expect(seen()).toHaveLength(1)
    // The same object the hook returned, because an assembled completion would be a new one.
    expect(seen()[0]!.response).toBe(seen()[0]!.returned)
    expect(record.promptTokens).toBe(9)
  })
})
