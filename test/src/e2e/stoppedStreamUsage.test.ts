/**
 * Usage of Anthropic streams that stop before their end. Anthropic reports
 * the input tokens in `message_start`, with a placeholder of one output
 * token, and the output count only in `message_delta`. A stream that the
 * client leaves in between must be recorded with the input tokens reported
 * and the output tokens counted from the text that reached the client. A
 * stream on the messages route served by another provider, which reported
 * nothing, is recorded with both sides estimated. On the chat route, the
 * thinking text (`reasoning_content`) and tool call arguments that reached the
 * client count as output as well, because the provider bills them.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { requestIdOf, waitForRecord } from "./harness.js"

const FIXTURE = "anthropic/messages/cache-read-stream.sse"
/** `message_start` of the recording: 11 uncached input tokens and 1,031 read from the cache. */
const PROMPT_TOKENS = 11 + 1031

const providersYaml = (upstreamUrl: string) => `  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: sk-ant-test-upstream-key
`

const modelsYaml = `  claude-sonnet-4:
    provider: anthropic
    model: claude-sonnet-4-20250514
`

let upstream: ReplayUpstream
let gateway: TestGateway

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({ upstreamUrl: upstream.url, providersYaml: providersYaml(upstream.url), modelsYaml })
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

/** Text the client must receive before it leaves: several deltas, so that it counts more than one token. */
const LEAVE_AFTER_CHARS = 40

/** Streams a story from `model` on the messages route, leaves after `LEAVE_AFTER_CHARS`, and returns the request's usage record. */
const leaveMessagesStream = async (model: string) => {
  const client = new Anthropic({ baseURL: gateway.url, apiKey: "client-key", maxRetries: 0 })
  const controller = new AbortController()
  const { data: stream, response } = await client.messages
    .create({ model, max_tokens: 256, stream: true, messages: [{ role: "user", content: "Tell me a story." }] }, { signal: controller.signal })
    .withResponse()
  let text = ""
  try {
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text
      if (text.length >= LEAVE_AFTER_CHARS) controller.abort()
    }
  } catch (error) {
    if (!(error instanceof Anthropic.APIUserAbortError)) throw error
  }
  return waitForRecord(gateway, requestIdOf(response.headers))
}

describe("streams stopped by the client", () => {
  it("messages route: output counted from text", async () => {
    upstream.enqueue({ fixture: FIXTURE, writes: "per-event", delayMs: 60 })
    const record = await leaveMessagesStream("claude-sonnet-4")

    expect(record.status).toBe("cancelled")
    expect(record.promptTokens).toBe(PROMPT_TOKENS)
    expect(record.cachedInputTokens).toBe(1031)
    expect(record.completionTokens).toBeGreaterThan(1)
    expect(record.usageEstimated).toBe(true)
    expect(record.costUsd).toBeGreaterThan(0)
  })

  it("chat route: output counted from text", async () => {
    upstream.enqueue({ fixture: FIXTURE, writes: "per-event", delayMs: 60 })
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const controller = new AbortController()

    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude-sonnet-4", stream: true, messages: [{ role: "user", content: "Tell me a story." }] }, { signal: controller.signal })
      .withResponse()
    let text = ""
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      if (text.length >= LEAVE_AFTER_CHARS) controller.abort()
    }
    const record = await waitForRecord(gateway, requestIdOf(response.headers))

    expect(record.status).toBe("cancelled")
    expect(record.promptTokens).toBe(PROMPT_TOKENS)
    expect(record.completionTokens).toBeGreaterThan(1)
    expect(record.usageEstimated).toBe(true)
  })

  it("chat route: thinking counted as output", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/thinking-stream.chunks.txt", writes: "per-event", delayMs: 60 })
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const controller = new AbortController()

    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude-sonnet-4", stream: true, messages: [{ role: "user", content: "What is 925 / 5?" }] }, { signal: controller.signal })
      .withResponse()
    let reasoning = ""
    for await (const chunk of stream) {
      // `reasoning_content` is Fluxen's field for the thinking text; the OpenAI SDK's types do not declare it.
      const delta = chunk.choices[0]?.delta as { reasoning_content?: string } | undefined
      reasoning += delta?.reasoning_content ?? ""
      if (reasoning.length >= LEAVE_AFTER_CHARS) controller.abort()
    }
    const record = await waitForRecord(gateway, requestIdOf(response.headers))

    expect(reasoning.length).toBeGreaterThanOrEqual(LEAVE_AFTER_CHARS)
    expect(record.status).toBe("cancelled")
    expect(record.promptTokens).toBe(69)
    expect(record.completionTokens).toBeGreaterThan(1)
    expect(record.usageEstimated).toBe(true)
  })

  it("chat route: tool arguments counted", async () => {
    // A tool call whose arguments arrive in fragments, with usage only in the last chunk.
    upstream.enqueue({ fixture: "openai/chat-completions/tool-call-stream-usage.sse", writes: "per-event", delayMs: 60 })
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const controller = new AbortController()

    const { data: stream, response } = await client.chat.completions
      .create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Weather in the UK?" }] }, { signal: controller.signal })
      .withResponse()
    let argumentsText = ""
    for await (const chunk of stream) {
      argumentsText += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? ""
      if (argumentsText.includes("country")) controller.abort()
    }
    const record = await waitForRecord(gateway, requestIdOf(response.headers))

    expect(argumentsText).toContain("country")
    expect(record.status).toBe("cancelled")
    expect(record.usageEstimated).toBe(true)
    expect(record.completionTokens).toBeGreaterThan(1)
  })

  it("messages route on OpenAI: usage estimated", async () => {
    // A recording without a usage chunk, whose text runs over many events.
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-no-usage.sse", writes: "per-event", delayMs: 20 })
    const record = await leaveMessagesStream("gpt-4o-mini")

    expect(record.status).toBe("cancelled")
    expect(record.promptTokens).toBeGreaterThan(0)
    expect(record.completionTokens).toBeGreaterThan(1)
    expect(record.usageEstimated).toBe(true)
    expect(record.costUsd).toBeGreaterThan(0)
  })

  it("completed stream: reported usage kept", async () => {
    upstream.enqueue({ fixture: FIXTURE })
    const client = new Anthropic({ baseURL: gateway.url, apiKey: "client-key", maxRetries: 0 })

    const { data: stream, response } = await client.messages
      .create({ model: "claude-sonnet-4", max_tokens: 256, stream: true, messages: [{ role: "user", content: "Tell me a story." }] })
      .withResponse()
    for await (const _event of stream) {
      // The record is what this test checks.
    }
    const record = await waitForRecord(gateway, requestIdOf(response.headers))

    expect(record.status).toBe("ok")
    expect(record.usageEstimated).toBe(false)
    expect(record.promptTokens).toBe(PROMPT_TOKENS)
  })
})
