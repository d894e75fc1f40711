/**
 * Optional request fields sent as null, as clients that serialize every
 * field send them, through Fluxen to an OpenAI upstream (passed through as
 * sent), to Anthropic and to Gemini (translated without the nulls).
 */
import type Anthropic from "@anthropic-ai/sdk"
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { anthropicProviderYaml, geminiProviderYaml, makeAnthropicClient, postJson, startHarness, type Harness } from "./harness.js"

const providersYaml = (upstreamUrl: string) => anthropicProviderYaml(upstreamUrl) + geminiProviderYaml(upstreamUrl)

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
  gemini-2.0-flash:
    provider: gemini
`

/** A chat body with every optional field that accepts null set to null, and a conversation with echoed nulls. */
const chatWithNulls = (model: string) => ({
  model,
  messages: [
    { role: "system", content: "Answer briefly.", name: null },
    { role: "user", content: "What is the capital of France?", name: null, tool_calls: null },
    { role: "assistant", content: "Paris.", name: null, tool_calls: null },
    { role: "user", content: "And of Italy?" }
  ],
  tools: null,
  tool_choice: null,
  parallel_tool_calls: null,
  response_format: null,
  user: null,
  temperature: null,
  stop: null,
  max_tokens: null,
  seed: null,
  stream_options: null
})

/** Lists the paths of every null in a JSON value. */
const nullPaths = (value: unknown, path = "body"): Array<string> => {
  if (value === null) return [path]
  if (Array.isArray(value)) return value.flatMap((item, index) => nullPaths(item, `${path}[${index}]`))
  if (typeof value === "object") return Object.entries(value as object).flatMap(([key, item]) => nullPaths(item, `${path}.${key}`))
  return []
}

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ providersYaml, modelsYaml })
})

afterAll(async () => {
  await harness?.close()
})

/**
 * Sends a body through the OpenAI SDK. Its types forbid null on `tools`,
 * `tool_choice`, `user` and the others, but it sends the body as given.
 */
const createChat = (body: ReturnType<typeof chatWithNulls>) =>
  harness.client.chat.completions.create(body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming).withResponse()

describe("null optional fields on chat completions", () => {
  it("pass through to OpenAI unchanged", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const body = chatWithNulls("gpt-4.1-nano")

    const { response } = await createChat(body)

    // The SDK adds `stream: false` to a non-streaming call.
    expect(response.status).toBe(200)
    expect(harness.upstream.requests.at(-1)!.json).toEqual({ ...body, stream: false })
  })

  it("reach Anthropic without nulls", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const { response } = await createChat(chatWithNulls("claude-sonnet-4-5"))
    const sent = harness.upstream.requests.at(-1)!

    expect(response.status).toBe(200)
    expect(sent.path).toBe("/v1/messages")
    expect(nullPaths(sent.json)).toEqual([])
  })

  it("reach Gemini without nulls", async () => {
    harness.upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })

    const { response } = await createChat(chatWithNulls("gemini-2.0-flash"))
    const sent = harness.upstream.requests.at(-1)!

    expect(response.status).toBe(200)
    expect(sent.path).toContain(":generateContent")
    expect(nullPaths(sent.json)).toEqual([])
  })

  it("accept null embeddings options", async () => {
    harness.upstream.enqueue({ fixture: "openai/embeddings/float.json" })
    const body = { model: "text-embedding-3-small", input: "Hello", encoding_format: null, dimensions: null, user: null }

    // Sent with fetch, because the SDK replaces a null encoding_format with base64.
    const response = await postJson(harness.gateway, "/v1/embeddings", body)

    expect(response.status).toBe(200)
    expect(harness.upstream.requests.at(-1)!.json).toEqual(body)
  })
})

/** A Messages body with every optional field Anthropic's reference lists set to null. */
const messagesWithNulls = (model: string) => ({
  model,
  max_tokens: 64,
  messages: [{ role: "user", content: "What is the capital of France?" }],
  system: null,
  tools: null,
  tool_choice: null,
  metadata: null,
  stop_sequences: null,
  temperature: null,
  stream: null
})

/** Sends a body through the Anthropic SDK, whose types forbid these nulls although it sends them as given. */
const createMessage = (body: ReturnType<typeof messagesWithNulls>) =>
  makeAnthropicClient(harness.gateway).messages.create(body as unknown as Anthropic.MessageCreateParamsNonStreaming).withResponse()

describe("null optional fields on /v1/messages", () => {
  it("reach Anthropic without nulls", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const { response } = await createMessage(messagesWithNulls("claude-sonnet-4-5"))
    const sent = harness.upstream.requests.at(-1)!

    expect(response.status).toBe(200)
    expect(sent.path).toBe("/v1/messages")
    expect(nullPaths(sent.json)).toEqual([])
  })

  it("translate to OpenAI without nulls", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await createMessage(messagesWithNulls("gpt-4.1-nano"))
    const sent = harness.upstream.requests.at(-1)!

    expect(response.status).toBe(200)
    expect(sent.path).toBe("/v1/chat/completions")
    expect(nullPaths(sent.json)).toEqual([])
  })
})
