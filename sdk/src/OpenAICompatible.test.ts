import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { ChatRequest } from "./ChatRequest.js"
import { UpstreamProtocolError } from "./Errors.js"
import type { HttpTransportService, UpstreamResponse } from "./HttpTransport.js"
import { makeOpenAICompatibleAdapter } from "./OpenAICompatible.js"
import type { CallContext, JsonResult } from "./Provider.js"

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
