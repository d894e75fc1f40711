/**
 * The routes Fluxen forwards with only the model replaced: legacy
 * completions and the Responses API (both streamed), and embeddings, whose
 * bytes must reach the client exactly as the upstream sent them.
 */
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  fixtureBytes,
  fixtureJson,
  NO_PLUGINS,
  postJson,
  requestIdOf,
  ssePayloads,
  startHarness,
  waitForRecord,
  type Harness
} from "./harness.js"

const COMPLETIONS_STREAM = "openai/completions/text-stream-usage.chunks.txt"
const RESPONSES_STREAM = "openai/responses/text-stream.sse"
const EMBEDDING_FLOAT = "openai/embeddings/float.json"
const EMBEDDING_BASE64 = "openai/embeddings/base64.json"
const EMBEDDING_BATCH = "openai/embeddings/batch-base64.json"

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
})

afterAll(async () => {
  await harness?.close()
})

describe("completions stream", () => {
  it("relays the recorded text and records usage", async () => {
    harness.upstream.enqueue({ fixture: COMPLETIONS_STREAM, writes: { bytes: 5 } })
    const before = harness.upstream.requests.length

    const { data: stream, response } = await harness.client.completions
      .create({ model: "gpt-3.5-turbo-instruct", prompt: "Invent a new holiday.", max_tokens: 16, stream: true })
      .withResponse()
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    const recordedLines = fixtureBytes(COMPLETIONS_STREAM).toString("utf8").split("\n").filter((line) => line !== "")
    const expectedText = recordedLines.map((line) => JSON.parse(line).choices[0]?.text ?? "").join("")
    expect(expectedText).toBe('The holiday is called "Gratitude Day" and it is a day dedicated to')
    expect(chunks.map((chunk) => chunk.choices[0]?.text ?? "").join("")).toBe(expectedText)
    // The last recorded chunk carries only usage, which this client did not request.
    expect(chunks).toHaveLength(recordedLines.length - 1)
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length")

    expect(harness.upstream.requests[before]!.path).toBe("/v1/completions")
    expect(harness.upstream.requests[before]!.json).toMatchObject({
      model: "gpt-3.5-turbo-instruct",
      prompt: "Invent a new holiday.",
      stream: true,
      stream_options: { include_usage: true }
    })
    expect(record.endpoint).toBe("completions")
    expect(record.status).toBe("ok")
    expect(record.stream).toBe(true)
    expect(record.promptTokens).toBe(14)
    expect(record.completionTokens).toBe(16)
  })
})

describe("responses stream", () => {
  it("relays every recorded event and records usage", async () => {
    harness.upstream.enqueue({ fixture: RESPONSES_STREAM, writes: { bytes: 3 } })
    const before = harness.upstream.requests.length

    const { data: stream, response } = await harness.client.responses
      .create({ model: "gpt-4.1", input: "Say hello to the world", stream: true })
      .withResponse()
    const events = []
    for await (const event of stream) events.push(event)
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    const recorded = ssePayloads(RESPONSES_STREAM)
    expect(events.map((event) => event.type)).toEqual(recorded.map((event) => event.type))
    expect(events).toEqual(recorded)

    const deltas = events.flatMap((event) => (event.type === "response.output_text.delta" ? [event.delta] : []))
    expect(deltas).toHaveLength(10)
    expect(deltas).toContain(" \u{1F30D}")
    expect(deltas.join("")).toBe("Hello! \u{1F30D} How can I assist you today?")

    const completed = events.at(-1)!
    expect(completed.type).toBe("response.completed")
    const { usage } = (completed as OpenAI.Responses.ResponseCompletedEvent).response
    expect(usage?.input_tokens).toBe(9)
    expect(usage?.output_tokens).toBe(12)

    expect(harness.upstream.requests[before]!.path).toBe("/v1/responses")
    expect(harness.upstream.requests[before]!.json).toMatchObject({ model: "gpt-4.1", stream: true })
    expect(record.endpoint).toBe("responses")
    expect(record.status).toBe("ok")
    expect(record.stream).toBe(true)
    expect(record.promptTokens).toBe(9)
    expect(record.completionTokens).toBe(12)
  })

  it("relays the recording byte for byte", async () => {
    harness.upstream.enqueue({ fixture: RESPONSES_STREAM, writes: { bytes: 3 } })

    const response = await postJson(harness.gateway, "/v1/responses", { model: "gpt-4.1", input: "Say hello to the world", stream: true })
    const body = Buffer.from(await response.arrayBuffer())

    expect(response.status).toBe(200)
    expect(body.toString("utf8")).toBe(fixtureBytes(RESPONSES_STREAM).toString("utf8"))
  })
})

describe("embeddings", () => {
  it.each([
    ["float", EMBEDDING_FLOAT],
    ["base64", EMBEDDING_BASE64]
  ] as const)("returns the recorded %s bytes exactly", async (encoding, fixture) => {
    harness.upstream.enqueue({ fixture })

    const response = await postJson(harness.gateway, "/v1/embeddings", {
      model: "text-embedding-3-small",
      input: "The food was delicious and the waiter...",
      encoding_format: encoding
    })

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("application/json")
    const body = Buffer.from(await response.arrayBuffer())
    expect(body.length).toBe(fixtureBytes(fixture).length)
    expect(body.equals(fixtureBytes(fixture))).toBe(true)
  })

  it("serves a float request of the OpenAI client", async () => {
    const recorded: Array<number> = fixtureJson(EMBEDDING_FLOAT).data[0].embedding
    harness.upstream.enqueue({ fixture: EMBEDDING_FLOAT })
    const before = harness.upstream.requests.length

    const { data, response } = await harness.client.embeddings
      .create({ model: "text-embedding-3-small", input: "The food was delicious and the waiter...", encoding_format: "float" })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(harness.upstream.requests[before]!.json).toMatchObject({ encoding_format: "float" })
    expect(data.data).toHaveLength(1)
    expect(data.data[0]!.embedding).toEqual(recorded)
    expect(data.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 })
    expect(record.endpoint).toBe("embeddings")
    expect(record.stream).toBe(false)
    expect(record.promptTokens).toBe(7)
    expect(record.completionTokens).toBe(0)
  })

  it("serves the OpenAI client's default base64 request", async () => {
    // The two recordings embed the same input, so the decoded base64 vector
    // equals the float recording rounded to float32.
    const recordedFloats: Array<number> = fixtureJson(EMBEDDING_FLOAT).data[0].embedding
    harness.upstream.enqueue({ fixture: EMBEDDING_BASE64 })
    const before = harness.upstream.requests.length

    const { data, response } = await harness.client.embeddings
      .create({ model: "text-embedding-3-small", input: "The food was delicious and the waiter..." })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(harness.upstream.requests[before]!.json).toMatchObject({
      model: "text-embedding-3-small",
      encoding_format: "base64"
    })
    expect(data.data).toHaveLength(1)
    expect(data.data[0]!.embedding).toHaveLength(1536)
    expect(data.data[0]!.embedding).toEqual(recordedFloats.map(Math.fround))
    expect(record.promptTokens).toBe(7)
  })

  it("returns all five items of a batch", async () => {
    harness.upstream.enqueue({ fixture: EMBEDDING_BATCH })

    const { data, response } = await harness.client.embeddings
      .create({
        model: "text-embedding-3-small",
        input: ["Hello, world!", "Bonjour le monde", "\u3053\u3093\u306B\u3061\u306F\u4E16\u754C", "\u{1F44B}\u{1F30D}", "Hola mundo"]
      })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(data.data.map((item) => item.index)).toEqual([0, 1, 2, 3, 4])
    for (const item of data.data) expect(item.embedding).toHaveLength(1536)
    expect(data.usage).toEqual({ prompt_tokens: 79, total_tokens: 79 })
    expect(record.promptTokens).toBe(79)
  })
})
