/**
 * `top_k` on its way to each provider, checked in the request bodies that
 * the replaying upstream receives. Anthropic takes `top_k` natively and
 * Gemini as `generationConfig.topK`. OpenAI's API has no such parameter, so
 * a Messages request translated for OpenAI must leave it out.
 */
import type Anthropic from "@anthropic-ai/sdk"
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  anthropicProviderYaml,
  failureOf,
  geminiProviderYaml,
  makeAnthropicClient,
  startHarness,
  type Harness
} from "./harness.js"

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  gemini-2.5-flash:
    provider: gemini
`

const messages: Array<Anthropic.MessageParam> = [{ role: "user", content: "What is the capital of France?" }]

let harness: Harness
let anthropic: Anthropic

beforeAll(async () => {
  harness = await startHarness({
    providersYaml: (upstreamUrl) => anthropicProviderYaml(upstreamUrl) + geminiProviderYaml(upstreamUrl),
    modelsYaml
  })
  anthropic = makeAnthropicClient(harness.gateway)
})

afterAll(async () => {
  await harness?.close()
})

const lastUpstreamBody = (): Record<string, any> => harness.upstream.requests.at(-1)!.json as Record<string, any>

describe("top_k on the messages route", () => {
  it("reaches Gemini as topK", async () => {
    harness.upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })

    await anthropic.messages.create({ model: "gemini-2.5-flash", max_tokens: 5, top_k: 40, messages })

    expect(harness.upstream.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    expect(lastUpstreamBody().generationConfig).toEqual({ maxOutputTokens: 5, topK: 40 })
  })

  it("reaches a Gemini stream as topK", async () => {
    harness.upstream.enqueue({ fixture: "gemini/stream-generate-content/text-stream.sse" })

    const message = await anthropic.messages.stream({ model: "gemini-2.5-flash", max_tokens: 1024, top_k: 1, messages }).finalMessage()

    expect(harness.upstream.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    expect(lastUpstreamBody().generationConfig).toEqual({ maxOutputTokens: 1024, topK: 1 })
    expect(message.stop_reason).toBe("end_turn")
  })

  it("reaches Anthropic unchanged", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, top_k: 40, messages })

    expect(harness.upstream.requests.at(-1)!.path).toBe("/v1/messages")
    expect(lastUpstreamBody().top_k).toBe(40)
  })

  it("is left out for OpenAI", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    await anthropic.messages.create({ model: "gpt-4.1-nano", max_tokens: 64, top_k: 40, temperature: 0.5, messages })

    const body = lastUpstreamBody()
    expect(harness.upstream.requests.at(-1)!.path).toBe("/v1/chat/completions")
    expect(body).not.toHaveProperty("top_k")
    expect(body).not.toHaveProperty("topK")
    expect(body.temperature).toBe(0.5)
  })
})

describe("top_k on the chat route", () => {
  // The OpenAI SDK has no top_k parameter and sends unknown fields as they are.
  const chatParams = (model: string, topK: unknown): OpenAI.ChatCompletionCreateParamsNonStreaming =>
    ({ model, max_tokens: 64, top_k: topK, messages }) as OpenAI.ChatCompletionCreateParamsNonStreaming

  it("reaches Gemini as topK", async () => {
    harness.upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })

    await harness.client.chat.completions.create(chatParams("gemini-2.5-flash", 40))

    expect(lastUpstreamBody().generationConfig).toEqual({ maxOutputTokens: 64, topK: 40 })
  })

  it("reaches Anthropic as top_k", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    await harness.client.chat.completions.create(chatParams("claude-sonnet-4-5", 40))

    expect(harness.upstream.requests.at(-1)!.path).toBe("/v1/messages")
    expect(lastUpstreamBody().top_k).toBe(40)
  })

  it("rejects text top_k for Gemini", async () => {
    const before = harness.upstream.requests.length

    const error = await failureOf(harness.client.chat.completions.create(chatParams("gemini-2.5-flash", "40")))

    expect(error).toMatchObject({ status: 400, param: "top_k" })
    expect(harness.upstream.requests.length).toBe(before)
  })
})
