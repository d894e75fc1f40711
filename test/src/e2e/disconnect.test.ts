/**
 * Streams that the client abandons, and slow streams that must not be cut.
 * A client that goes away must close the upstream connection at once and
 * leave a `cancelled` usage record. The idle timeout restarts with every
 * byte the upstream sends.
 */
import { connect } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  chatFixtureText,
  NO_PLUGINS,
  postJson,
  recordIds,
  requestIdOf,
  ssePayloads,
  startHarness,
  waitForNewRecord,
  waitForRecord,
  type Harness
} from "./harness.js"

const TEXT_STREAM = "openai/chat-completions/text-stream-usage.sse"

/** A model with a 500 ms idle timeout, shorter than the whole of a slow stream. */
const IDLE_MODEL = "gpt-4o-mini-idle"

const idleModelYaml = `  ${IDLE_MODEL}:
    provider: openai
    model: gpt-4o-mini-2024-07-18
    idleTimeout: 500
`

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    pluginsYaml: NO_PLUGINS,
    modelsYaml: idleModelYaml
  })
})

afterAll(async () => {
  await harness?.close()
})

describe("client disconnect", () => {
  it("records a request whose body never ends", async () => {
    const earlier = await recordIds(harness.gateway)
    const { hostname, port } = new URL(harness.gateway.url)
    const socket = connect(Number(port), hostname)
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()))

    // The headers promise 1,000 bytes, and the client leaves after 20.
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`)
    socket.write('{"model":"gpt-4o-mi')
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(record.status).toBe("cancelled")
    expect(record.httpStatus).toBe(499)
    expect(harness.gateway.running.gateway.inflight.size).toBe(0)
  })

  it("closes the upstream and records cancelled", async () => {
    // 200 ms between events: the whole replay would take more than 2 s.
    harness.upstream.enqueue({ fixture: TEXT_STREAM, delayMs: 200 })
    const index = harness.upstream.requests.length
    const controller = new AbortController()

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: question, stream: true }, { signal: controller.signal })
      .withResponse()
    let text = ""
    let abortedAt = 0
    const iteration = (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        if (text !== "") {
          abortedAt = performance.now()
          controller.abort()
        }
      }
    })()

    // The OpenAI SDK ends the iteration quietly when its own signal aborts it.
    await iteration
    await expect(harness.upstream.waitForAbort(index, 1000)).resolves.toBeUndefined()
    const abortDelayMs = performance.now() - abortedAt
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(text).toBe("The")
    expect(abortDelayMs).toBeLessThan(1000)
    expect(record.status).toBe("cancelled")
    expect(record.httpStatus).toBe(499)
    expect(record.stream).toBe(true)
    expect(record.resolvedModel).toBe("gpt-4o-mini-2024-07-18")
    expect(record.firstByteMs).not.toBeNull()
    // The usage chunk never came, and no analyzer plugin estimates it here.
    expect(record.promptTokens).toBeNull()
  })

  it("closes the upstream when the client leaves before the headers", async () => {
    harness.upstream.enqueue({ fixture: TEXT_STREAM, delayBeforeHeadersMs: 3000 })
    const index = harness.upstream.requests.length
    const earlier = await recordIds(harness.gateway)
    const controller = new AbortController()

    const request = harness.client.chat.completions.create(
      { model: "gpt-4o-mini", messages: question, stream: true },
      { signal: controller.signal }
    )
    // Aborts once the upstream has the request, while it still withholds the headers.
    while (harness.upstream.requests.length === index) await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()

    await expect(request).rejects.toBeInstanceOf(OpenAI.APIUserAbortError)
    await expect(harness.upstream.waitForAbort(index, 1000)).resolves.toBeUndefined()
    // The client saw no response, so the new record is found by elimination.
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(record.status).toBe("cancelled")
    expect(record.httpStatus).toBe(499)
    expect(record.stream).toBe(true)
    expect(record.firstByteMs).toBeNull()
  })

  it("closes the upstream when a JSON request is abandoned", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json", delayBeforeHeadersMs: 3000 })
    const index = harness.upstream.requests.length
    const earlier = await recordIds(harness.gateway)
    const controller = new AbortController()

    const request = harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: question }, { signal: controller.signal })
    while (harness.upstream.requests.length === index) await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()

    await expect(request).rejects.toBeInstanceOf(OpenAI.APIUserAbortError)
    await expect(harness.upstream.waitForAbort(index, 1000)).resolves.toBeUndefined()
    const record = await waitForNewRecord(harness.gateway, earlier)

    expect(record.status).toBe("cancelled")
    expect(record.httpStatus).toBe(499)
    expect(record.stream).toBe(false)
  })
})

describe("idle timeout", () => {
  it("restarts with every event of a slow stream", async () => {
    const events = ssePayloads(TEXT_STREAM).length + 1
    harness.upstream.enqueue({ fixture: TEXT_STREAM, delayMs: 200 })
    const started = performance.now()

    const { data: stream, response } = await harness.client.chat.completions
      .create({ model: IDLE_MODEL, messages: question, stream: true, stream_options: { include_usage: true } })
      .withResponse()
    let text = ""
    let usage: OpenAI.CompletionUsage | null | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      if (chunk.usage) usage = chunk.usage
    }
    const elapsedMs = performance.now() - started
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    // 12 writes with 200 ms between them: the stream outlasts the 500 ms idle timeout four times over.
    expect(events).toBe(12)
    expect(elapsedMs).toBeGreaterThanOrEqual(2000)
    expect(text).toBe(chatFixtureText(TEXT_STREAM))
    expect(usage?.total_tokens).toBe(87)
    expect(record.status).toBe("ok")
    expect(record.promptTokens).toBe(78)
    expect(record.completionTokens).toBe(9)
  })

  it("restarts with every byte of a slow JSON body", async () => {
    // The 2677-byte body in 67 writes of 40 bytes, 20 ms apart: about 1.3 s in all.
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json", writes: { bytes: 40 }, delayMs: 20 })
    const started = performance.now()

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: IDLE_MODEL, messages: question })
    const body = (await response.json()) as { usage: { completion_tokens: number } }
    const elapsedMs = performance.now() - started

    expect(elapsedMs).toBeGreaterThanOrEqual(1000)
    expect(response.status).toBe(200)
    expect(body.usage.completion_tokens).toBe(363)
  })
})
