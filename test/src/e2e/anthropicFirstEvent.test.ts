/**
 * Anthropic streams that fail in their first event. Anthropic may respond to
 * a streamed request with HTTP 200 and then send an `error` event before
 * `message_start`. Nothing has reached the client then, so Fluxen retries
 * or falls back as it does for an HTTP error status. An error after
 * `message_start` still reaches the client as an error event in the stream.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest"
import type { TestGateway } from "../support/gateway.js"
import type { ReplayUpstream } from "../support/replayUpstream.js"
import {
  ANTHROPIC_UPSTREAM_KEY,
  failureOf,
  makeAnthropicClient,
  makeClient,
  NO_PLUGINS,
  orderedPairYaml,
  retryingModelYaml,
  startHarness,
  type Harness
} from "./harness.js"

const providersYaml = (upstreamUrl: string) => `  primary:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/primary/v1
      apiKey: ${ANTHROPIC_UPSTREAM_KEY}
  backup:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/backup/v1
      apiKey: ${ANTHROPIC_UPSTREAM_KEY}
`

// Each test has its own upstream model, because failures count toward a deployment's cooldown across tests.
const modelsYaml = [
  orderedPairYaml("pair-messages"),
  orderedPairYaml("pair-chat"),
  orderedPairYaml("pair-mid-stream"),
  retryingModelYaml("retry-messages"),
  retryingModelYaml("retry-chat")
].join("")

// No licensed recording has an error event in a stream, so these bodies follow Anthropic's documented event format.
const errorEvent = (type: string, message: string) => `event: error\ndata: ${JSON.stringify({ type: "error", error: { type, message } })}\n\n`

const overloadedFirst = {
  headers: { "content-type": "text/event-stream", "request-id": "req_overloaded_first" },
  body: `event: ping\ndata: {"type": "ping"}\n\n${errorEvent("overloaded_error", "Overloaded")}`
}

const overloadedAfterStart = {
  headers: { "content-type": "text/event-stream" },
  body:
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"pair-mid-stream","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\n' +
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Partial"}}\n\n' +
    errorEvent("overloaded_error", "Overloaded")
}

const RECORDED_STREAM = "anthropic/messages/text-stream.chunks.txt"
const RECORDED_TEXT = "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"

const question = [{ role: "user" as const, content: "How are you?" }]

describe("Anthropic error as the first stream event", () => {
  let harness: Harness
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let anthropic: Anthropic
  let openai: OpenAI
  let seen = 0

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS, providersYaml, modelsYaml })
    upstream = harness.upstream
    gateway = harness.gateway
    anthropic = makeAnthropicClient(gateway)
    openai = makeClient(gateway)
  })

  afterAll(async () => {
    await harness?.close()
  })

  beforeEach(() => {
    seen = upstream.requests.length
  })

  const newPaths = () => upstream.requests.slice(seen).map((request) => request.path)

  const messageText = async (model: string): Promise<string> => {
    const message = await anthropic.messages.stream({ model, max_tokens: 100, messages: question }).finalMessage()
    return message.content.map((block) => (block.type === "text" ? block.text : "")).join("")
  }

  const chatText = async (model: string): Promise<string> => {
    const stream = await openai.chat.completions.create({ model, messages: question, stream: true })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    return text
  }

  const cases = [
    { name: "messages stream falls back", model: "pair-messages", read: messageText, second: "/backup/v1/messages", provider: "backup" },
    { name: "chat stream falls back", model: "pair-chat", read: chatText, second: "/backup/v1/messages", provider: "backup" },
    { name: "messages stream retries the deployment", model: "retry-messages", read: messageText, second: "/primary/v1/messages", provider: "primary" },
    { name: "chat stream retries the deployment", model: "retry-chat", read: chatText, second: "/primary/v1/messages", provider: "primary" }
  ]

  for (const { name, model, read, second, provider } of cases) {
    it(name, async () => {
      upstream.enqueue(overloadedFirst)
      upstream.enqueue({ fixture: RECORDED_STREAM })

      const text = await read(model)

      expect(text).toBe(RECORDED_TEXT)
      expect(newPaths()).toEqual(["/primary/v1/messages", second])
      const record = (await gateway.usageRecords()).at(-1)!
      expect(record.provider).toBe(provider)
      expect(record.status).toBe("ok")
    })
  }

  it("last failure returns HTTP 529", async () => {
    upstream.enqueue(overloadedFirst)
    upstream.enqueue(overloadedFirst)

    const error = await failureOf(anthropic.messages.create({ model: "retry-messages", max_tokens: 100, messages: question, stream: true }))

    expect(error).toBeInstanceOf(Anthropic.APIError)
    const apiError = error as Anthropic.APIError
    expect(apiError.status).toBe(529)
    expect(apiError.type).toBe("overloaded_error")
    expect(apiError.apiMessage).toBe("Overloaded")
    expect(apiError.headers?.get("x-fluxen-upstream-request-id")).toBe("req_overloaded_first")
  })
})

describe("Anthropic error after message_start", () => {
  let harness: Harness
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let logged: Array<string>
  const anthropic = () => makeAnthropicClient(gateway)

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS, providersYaml, modelsYaml })
    upstream = harness.upstream
    gateway = harness.gateway
  })

  afterAll(async () => {
    await harness?.close()
  })

  beforeEach(() => {
    logged = []
    // Fluxen's default logger writes each line with console.log.
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)))
  })

  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("Anthropic SDK raises the error event", async () => {
    const requestsBefore = upstream.requests.length
    upstream.enqueue(overloadedAfterStart)
    const texts: Array<string> = []

    const stream = anthropic().messages.stream({ model: "pair-mid-stream", max_tokens: 100, messages: question })
    stream.on("text", (text) => texts.push(text))
    const error = await failureOf(stream.finalMessage())

    expect(texts.join("")).toBe("Partial")
    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as Anthropic.APIError).type).toBe("overloaded_error")
    expect(upstream.requests.length).toBe(requestsBefore + 1)
  })

  it("OpenAI SDK raises the error event", async () => {
    const requestsBefore = upstream.requests.length
    upstream.enqueue(overloadedAfterStart)

    const stream = await makeClient(gateway).chat.completions.create({ model: "pair-mid-stream", messages: question, stream: true })
    let text = ""
    const error = await failureOf(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
      })()
    )

    expect(text).toBe("Partial")
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("Overloaded")
    expect(upstream.requests.length).toBe(requestsBefore + 1)
  })

  it("log names the stream event", async () => {
    upstream.enqueue(overloadedAfterStart)

    await failureOf(anthropic().messages.stream({ model: "pair-mid-stream", max_tokens: 100, messages: question }).finalMessage())
    await gateway.usageRecords()

    const line = logged.find((text) => text.includes("Upstream call failed"))
    expect(line).toBeDefined()
    expect(line).toContain("primary sent an error event in the stream (type overloaded_error): Overloaded")
    expect(line).not.toContain("HTTP 529")
    expect(line).not.toContain("http.status")
  })
})
