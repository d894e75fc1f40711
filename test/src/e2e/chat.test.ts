/**
 * Non-streaming chat completions through Fluxen with the OpenAI SDK: the
 * recorded reply reaches the client unchanged, the upstream receives the
 * mapped model name, and the usage record carries the recorded token counts.
 */
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  CLIENT_API_KEY,
  fixtureBytes,
  fixtureJson,
  NO_PLUGINS,
  postJson,
  requestIdOf,
  startHarness,
  UPSTREAM_API_KEY,
  waitForRecord,
  type Harness
} from "./harness.js"

const TEXT = "openai/chat-completions/text.json"
const TOOL_CALL = "openai/chat-completions/tool-call.json"

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_current_weather",
    description: "Get the current weather in a given location",
    parameters: {
      type: "object",
      properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["location"]
    }
  }
}

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
})

afterAll(async () => {
  await harness?.close()
})

describe("chat completion", () => {
  it("returns the recorded text reply", async () => {
    const recorded = fixtureJson(TEXT)
    harness.upstream.enqueue({ fixture: TEXT })

    const { data, response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Invent a new holiday and describe its traditions." }] })
      .withResponse()

    expect(data.id).toBe(recorded.id)
    expect(data.model).toBe("gpt-4.1-nano-2025-04-14")
    expect(data.choices).toHaveLength(1)
    expect(data.choices[0]!.message.content).toBe(recorded.choices[0].message.content)
    expect(data.choices[0]!.message.content).toContain("darkness\u2014mirroring")
    expect(data.choices[0]!.finish_reason).toBe("stop")
    expect(data.usage).toEqual(recorded.usage)
    // A UUID of version 7: time-ordered, so usage rows append to the primary-key index.
    expect(response.headers.get("x-fluxen-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it("passes on the upstream's request id", async () => {
    harness.upstream.enqueue({ fixture: TEXT, headers: { "x-request-id": "req_upstream_text" } })

    const { response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Which id did OpenAI give this?" }] })
      .withResponse()

    expect(response.headers.get("x-fluxen-upstream-request-id")).toBe("req_upstream_text")
    expect(response.headers.get("x-request-id")).toBe(response.headers.get("x-fluxen-request-id"))
  })

  it("sends the mapped model name upstream", async () => {
    harness.upstream.enqueue({ fixture: TEXT })
    const before = harness.upstream.requests.length

    await harness.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hello" }],
      temperature: 0.5
    })

    expect(harness.upstream.requests).toHaveLength(before + 1)
    const sent = harness.upstream.requests[before]!
    expect(sent.method).toBe("POST")
    expect(sent.path).toBe("/v1/chat/completions")
    expect(sent.headers["authorization"]).toBe(`Bearer ${UPSTREAM_API_KEY}`)
    expect(JSON.stringify(sent.headers)).not.toContain(CLIENT_API_KEY)
    expect(sent.json).toMatchObject({
      model: "gpt-4o-mini-2024-07-18",
      messages: [{ role: "user", content: "Hello" }],
      temperature: 0.5
    })
  })

  it("routes a provider/model name directly", async () => {
    harness.upstream.enqueue({ fixture: TEXT })
    const before = harness.upstream.requests.length

    const { response } = await harness.client.chat.completions
      .create({ model: "openai/gpt-4.1-nano-2025-04-14", messages: [{ role: "user", content: "Hello" }] })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(harness.upstream.requests[before]!.json).toMatchObject({ model: "gpt-4.1-nano-2025-04-14" })
    expect(record.requestedModel).toBe("openai/gpt-4.1-nano-2025-04-14")
    expect(record.resolvedModel).toBe("gpt-4.1-nano-2025-04-14")
    expect(record.provider).toBe("openai")
  })

  it("records the recorded usage", async () => {
    const recorded = fixtureJson(TEXT)
    harness.upstream.enqueue({ fixture: TEXT })

    const { response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }] })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(record.requestedModel).toBe("gpt-4o-mini")
    expect(record.resolvedModel).toBe("gpt-4o-mini-2024-07-18")
    expect(record.provider).toBe("openai")
    expect(record.endpoint).toBe("chat")
    expect(record.status).toBe("ok")
    expect(record.httpStatus).toBe(200)
    expect(record.stream).toBe(false)
    expect(record.promptTokens).toBe(recorded.usage.prompt_tokens)
    expect(record.promptTokens).toBe(16)
    expect(record.completionTokens).toBe(363)
    expect(record.cachedInputTokens).toBe(0)
    expect(record.cacheWriteTokens).toBe(0)
    expect(record.reasoningTokens).toBe(0)
    expect(record.usageEstimated).toBe(false)
    expect(record.errorType).toBeNull()
    expect(record.costUsd).toBeNull()
  })

  it("relays the recorded body bytes unchanged", async () => {
    harness.upstream.enqueue({ fixture: TEXT })

    const response = await postJson(harness.gateway, "/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hello" }]
    })

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("application/json")
    expect(Buffer.from(await response.arrayBuffer()).equals(fixtureBytes(TEXT))).toBe(true)
  })
})

describe("chat response headers", () => {
  it("forwards only rate limit headers", async () => {
    harness.upstream.enqueue({
      fixture: TEXT,
      headers: {
        "x-ratelimit-remaining-tokens": "149984",
        "openai-organization": "org-upstream-account",
        "set-cookie": "__cf_bm=upstream-session; path=/",
        "openai-processing-ms": "1032"
      }
    })

    const response = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }] })
    await response.arrayBuffer()

    expect(response.status).toBe(200)
    expect(response.headers.get("x-ratelimit-remaining-tokens")).toBe("149984")
    expect(response.headers.get("openai-organization")).toBeNull()
    expect(response.headers.get("set-cookie")).toBeNull()
    expect(response.headers.get("openai-processing-ms")).toBeNull()
  })
})

describe("chat tool call", () => {
  it("returns the recorded tool call", async () => {
    const recorded = fixtureJson(TOOL_CALL)
    harness.upstream.enqueue({ fixture: TOOL_CALL })

    const completion = await harness.client.chat.completions.create({
      model: "gpt-5-nano",
      messages: [{ role: "user", content: "What is the weather like in Boston today?" }],
      tools: [weatherTool],
      tool_choice: "auto"
    })

    const choice = completion.choices[0]!
    expect(choice.finish_reason).toBe("tool_calls")
    expect(choice.message.content).toBeNull()
    expect(choice.message.tool_calls).toHaveLength(1)
    const call = choice.message.tool_calls![0]!
    expect(call.id).toBe("call_8fxy20OEu9ulvvaa5b5CzVA4")
    expect(call.type).toBe("function")
    const { function: called } = call as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall
    expect(called.name).toBe("get_current_weather")
    expect(called.arguments).toBe('{"location":"Boston, MA","unit":"fahrenheit"}')
    expect(completion.usage).toEqual(recorded.usage)
  })

  it("forwards the tools and records reasoning tokens", async () => {
    harness.upstream.enqueue({ fixture: TOOL_CALL })
    const before = harness.upstream.requests.length

    const { response } = await harness.client.chat.completions
      .create({
        model: "gpt-5-nano",
        messages: [{ role: "user", content: "What is the weather like in Boston today?" }],
        tools: [weatherTool]
      })
      .withResponse()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))

    expect(harness.upstream.requests[before]!.json).toMatchObject({ model: "gpt-5-nano", tools: [weatherTool] })
    expect(record.requestedModel).toBe("gpt-5-nano")
    expect(record.resolvedModel).toBe("gpt-5-nano")
    expect(record.status).toBe("ok")
    expect(record.promptTokens).toBe(162)
    expect(record.completionTokens).toBe(287)
    expect(record.reasoningTokens).toBe(256)
    expect(record.cachedInputTokens).toBe(0)
    expect(record.usageEstimated).toBe(false)
  })
})
