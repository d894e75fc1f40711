import {
  ChatStreamAssembler,
  type CallContext,
  type ChatCompletion,
  type ChatCompletionChunk,
  type HttpTransportService,
  type Usage
} from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadFixture, splitBody } from "../test/fixtures.js"
import { makeGeminiAdapter } from "./GeminiAdapter.js"

const API_KEY = "local-test-key-42"

// A minimal fetch-based transport, standing in for the runtime's undici one.
// The adapter always sends string bodies, hence the cast.
const fetchTransport: HttpTransportService = {
  send: async (request) => {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body as string } : {}),
      signal: request.signal
    })
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name] = value
    })
    const reader = response.body!.getReader()
    async function* body() {
      for (let read = await reader.read(); !read.done; read = await reader.read()) yield read.value
    }
    const bytes = async () => {
      const chunks: Array<Uint8Array> = []
      for await (const chunk of body()) chunks.push(chunk)
      return new Uint8Array(Buffer.concat(chunks))
    }
    return { status: response.status, headers, body: body(), bytes, discard: () => void reader.cancel() }
  }
}

interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

const received: Array<ReceivedRequest> = []
let server: Server
let baseUrl: string

// Serves the recordings: streams event by event with a pause, as Gemini does.
const routes: Record<string, string> = {
  "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse": "stream-generate-content/cumulative-usage-stream.sse",
  "/v1beta/models/gemini-2.5-flash:generateContent": "generate-content/vertex-text.json",
  "/v1beta/models/bad-key:streamGenerateContent?alt=sse": "stream-generate-content/error-400-api-key-invalid.json"
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const chunks: Array<Buffer> = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    received.push({ method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString("utf8") })

    const fixturePath = routes[request.url!]
    if (fixturePath === undefined) {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":404,"message":"Not found.","status":"NOT_FOUND"}}')
      return
    }
    const fixture = loadFixture(fixturePath)
    response.writeHead(fixture.status, { "content-type": fixture.contentType })
    for (const write of splitBody(fixture.body, fixture.contentType === "text/event-stream" ? "per-event" : "whole")) {
      response.write(write)
      await sleep(5)
    }
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1beta`
})

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
})

const context = (upstreamModel: string): CallContext => ({
  requestId: "req-http",
  upstreamModel,
  signal: new AbortController().signal,
  idleTimeoutMs: 5_000,
  clientHeaders: { get: () => undefined }
})

const adapter = () => makeGeminiAdapter({ provider: "gemini", baseUrl, apiKey: Redacted.make(API_KEY) }, fetchTransport)

describe("through a local HTTP server", () => {
  it("streams the cumulative-usage recording", async () => {
    const result = await Effect.runPromise(
      adapter().chatStream({ model: "gemini", messages: [{ role: "user", content: "Count to 30." }] }, context("gemini-2.5-flash"))
    )
    const assembler = new ChatStreamAssembler()
    let usage: Usage | undefined
    let done = false
    for await (const event of result.events) {
      if (event.usage !== undefined) usage = event.usage
      if (event.done === true) done = true
      else assembler.add(event.json as ChatCompletionChunk)
    }
    const completion = assembler.toCompletion()

    expect(result.status).toBe(200)
    expect(done).toBe(true)
    expect(completion.choices[0]!.message.content).toBe(Array.from({ length: 30 }, (_, index) => String(index + 1)).join("\n"))
    expect(completion.choices[0]!.finish_reason).toBe("stop")
    expect(usage).toEqual({ promptTokens: 18, completionTokens: 115, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 35 })

    const request = received.find((entry) => entry.url.includes(":streamGenerateContent"))!
    expect(request.method).toBe("POST")
    expect(request.headers["x-goog-api-key"]).toBe(API_KEY)
    expect(request.url).not.toContain(API_KEY)
    expect(JSON.parse(request.body)).toEqual({ contents: [{ role: "user", parts: [{ text: "Count to 30." }] }] })
  })

  it("answers with the Vertex recording", async () => {
    const result = await Effect.runPromise(
      adapter().chat({ model: "gemini", messages: [{ role: "user", content: "A poem." }] }, context("gemini-2.5-flash"))
    )
    expect((result.body as ChatCompletion).choices[0]!.message.content).toMatch(/^In systems vast/)
    expect(result.usage).toEqual({ promptTokens: 8, completionTokens: 1910, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 1477 })
  })

  it("maps the stream error recording", async () => {
    const error = await Effect.runPromise(
      Effect.flip(adapter().chatStream({ model: "gemini", messages: [{ role: "user", content: "Hi" }] }, context("bad-key")))
    )
    expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 400, error: { type: "INVALID_ARGUMENT", code: "API_KEY_INVALID" } })
  })
})
