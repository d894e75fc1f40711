import { describe, expect, it } from "@effect/vitest"
import { cacheKeyOf, canonicalJson, type CacheKeyInput } from "./cacheKey.js"

type Body = Record<string, unknown>

const baseChat: Body = {
  model: "fast",
  messages: [
    { role: "system", content: "Answer in one sentence." },
    { role: "user", name: "alice", content: [{ type: "text", text: "What is the weather in Paris?" }] },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }]
    },
    { role: "tool", tool_call_id: "call_1", content: "18 °C, cloudy" }
  ],
  tools: [
    {
      type: "function",
      function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } } } }
    }
  ],
  tool_choice: "auto",
  parallel_tool_calls: true,
  response_format: { type: "text" },
  temperature: 0.2,
  top_p: 0.9,
  max_tokens: 200,
  stop: ["END"],
  seed: 7,
  n: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: { "50256": -100 },
  logprobs: false
}

const baseEmbeddings: Body = { model: "embed", input: ["first text", "second text"], encoding_format: "float", dimensions: 256 }

const chatInput = (request: Body, changes: Partial<CacheKeyInput> = {}): CacheKeyInput => ({
  namespace: "team:research",
  endpoint: "chat",
  provider: "openai",
  upstreamModel: "gpt-4.1-nano-2025-04-14",
  request,
  ...changes
})

const messagesOf = (body: Body) => structuredClone(body.messages) as Array<Record<string, any>>

const withMessages = (edit: (messages: Array<Record<string, any>>) => void) => (body: Body): Body => {
  const messages = messagesOf(body)
  edit(messages)
  return { ...body, messages }
}

// Each edit can change the response, so each must give a new key.
const keyChangingEdits: ReadonlyArray<readonly [string, (body: Body) => Body]> = [
  ["message role", withMessages((m) => { m[0]!.role = "developer" })],
  ["message text", withMessages((m) => { m[0]!.content = "Answer in two sentences." })],
  ["content part text", withMessages((m) => { m[1]!.content[0].text = "What is the weather in Rome?" })],
  ["content part added", withMessages((m) => { m[1]!.content.push({ type: "image_url", image_url: { url: "https://example.com/a.png" } }) })],
  ["content string versus parts", withMessages((m) => { m[1]!.content = "What is the weather in Paris?" })],
  ["message name", withMessages((m) => { m[1]!.name = "bob" })],
  ["message name removed", withMessages((m) => { delete m[1]!.name })],
  ["tool call arguments", withMessages((m) => { m[2]!.tool_calls[0].function.arguments = "{\"city\":\"Rome\"}" })],
  ["tool call id", withMessages((m) => { m[2]!.tool_calls[0].id = "call_2" })],
  ["tool_call_id", withMessages((m) => { m[3]!.tool_call_id = "call_9" })],
  ["message order", withMessages((m) => { m.reverse() })],
  ["message appended", withMessages((m) => { m.push({ role: "user", content: "And tomorrow?" }) })],
  ["tool description", (b) => ({ ...b, tools: [{ type: "function", function: { name: "get_weather", description: "Weather now" } }] })],
  ["tools removed", ({ tools: _, ...b }) => b],
  ["tool_choice", (b) => ({ ...b, tool_choice: "required" })],
  ["tool_choice object", (b) => ({ ...b, tool_choice: { type: "function", function: { name: "get_weather" } } })],
  ["parallel_tool_calls", (b) => ({ ...b, parallel_tool_calls: false })],
  ["response_format", (b) => ({ ...b, response_format: { type: "json_object" } })],
  ["temperature", (b) => ({ ...b, temperature: 0.3 })],
  ["temperature removed", ({ temperature: _, ...b }) => b],
  ["top_p", (b) => ({ ...b, top_p: 1 })],
  ["max_tokens", (b) => ({ ...b, max_tokens: 201 })],
  ["max_completion_tokens", (b) => ({ ...b, max_completion_tokens: 200 })],
  ["stop", (b) => ({ ...b, stop: ["STOP"] })],
  ["stop with two strings", (b) => ({ ...b, stop: ["END", "STOP"] })],
  ["seed", (b) => ({ ...b, seed: 8 })],
  ["n", (b) => ({ ...b, n: 2 })],
  ["presence_penalty", (b) => ({ ...b, presence_penalty: 0.5 })],
  ["frequency_penalty", (b) => ({ ...b, frequency_penalty: 0.5 })],
  ["logit_bias", (b) => ({ ...b, logit_bias: { "50256": -50 } })],
  ["logprobs", (b) => ({ ...b, logprobs: true })],
  ["top_logprobs", (b) => ({ ...b, top_logprobs: 3 })],
  ["reasoning_effort", (b) => ({ ...b, reasoning_effort: "high" })],
  ["reasoning", (b) => ({ ...b, reasoning: { effort: "high" } })],
  ["thinking", (b) => ({ ...b, thinking: { type: "enabled", budget_tokens: 1024 } })],
  ["modalities", (b) => ({ ...b, modalities: ["text", "audio"] })],
  ["audio", (b) => ({ ...b, audio: { voice: "alloy", format: "wav" } })],
  ["unknown field", (b) => ({ ...b, verbosity: "low" })],
  ["temperature null", (b) => ({ ...b, temperature: null })]
]

// No edit here can change the response, so each must keep the key.
const keyKeepingEdits: ReadonlyArray<readonly [string, (body: Body) => Body]> = [
  ["requested model alias", (b) => ({ ...b, model: "fast-alias" })],
  ["user", (b) => ({ ...b, user: "end-user-42" })],
  ["stream", (b) => ({ ...b, stream: true })],
  ["stream_options", (b) => ({ ...b, stream: true, stream_options: { include_usage: true } })],
  ["metadata", (b) => ({ ...b, metadata: { purpose: "test" } })],
  ["store", (b) => ({ ...b, store: true })],
  ["service_tier", (b) => ({ ...b, service_tier: "flex" })],
  ["safety_identifier", (b) => ({ ...b, safety_identifier: "hash-of-user" })],
  ["prompt_cache_key", (b) => ({ ...b, prompt_cache_key: "tenant-1" })],
  ["single stop string", (b) => ({ ...b, stop: "END" })],
  ["key order", (b) => Object.fromEntries(Object.entries(b).reverse())],
  ["nested key order", withMessages((m) => { m[2]!.tool_calls[0] = { type: "function", function: { arguments: "{\"city\":\"Paris\"}", name: "get_weather" }, id: "call_1" } })],
  ["undefined member", (b) => ({ ...b, top_k: undefined })],
  ["user null", (b) => ({ ...b, user: null })],
  ["null unknown field", (b) => ({ ...b, top_k: null })],
  ["message name null", withMessages((m) => { m[0]!.name = null })],
  ["message tool_calls null", withMessages((m) => { m[3]!.tool_calls = null })]
]

describe("cacheKeyOf", () => {
  const baseKey = cacheKeyOf(chatInput(baseChat))

  it("is 64 hex digits and stable", () => {
    expect(baseKey).toMatch(/^[0-9a-f]{64}$/)
    expect(cacheKeyOf(chatInput(structuredClone(baseChat)))).toBe(baseKey)
  })

  for (const [field, edit] of keyChangingEdits) {
    it(`changes with ${field}`, () => {
      expect(cacheKeyOf(chatInput(edit(baseChat)))).not.toBe(baseKey)
    })
  }

  for (const [field, edit] of keyKeepingEdits) {
    it(`ignores ${field}`, () => {
      expect(cacheKeyOf(chatInput(edit(baseChat)))).toBe(baseKey)
    })
  }

  it("separates absent temperature from 0", () => {
    const { temperature: _, ...withoutTemperature } = baseChat

    const absent = cacheKeyOf(chatInput(withoutTemperature))
    const zero = cacheKeyOf(chatInput({ ...withoutTemperature, temperature: 0 }))

    expect(absent).not.toBe(zero)
  })

  it("keys null tools as absent", () => {
    const { tools: _, tool_choice: __, parallel_tool_calls: ___, response_format: ____, ...withoutTools } = baseChat
    const nulls = { ...withoutTools, tools: null, tool_choice: null, parallel_tool_calls: null, response_format: null }

    expect(cacheKeyOf(chatInput(nulls))).toBe(cacheKeyOf(chatInput(withoutTools)))
  })

  it("keeps content null in messages", () => {
    const withoutContent = withMessages((m) => { delete m[2]!.content })(baseChat)

    expect(cacheKeyOf(chatInput(withoutContent))).not.toBe(baseKey)
  })

  it("keys null embeddings options as absent", () => {
    const embeddings = (request: Body) => cacheKeyOf(chatInput(request, { endpoint: "embeddings", upstreamModel: "text-embedding-3-small" }))
    const { encoding_format: _, dimensions: __, ...withoutOptions } = baseEmbeddings

    expect(embeddings({ ...withoutOptions, encoding_format: null, dimensions: null })).toBe(embeddings(withoutOptions))
  })

  it("separates absent top_p from 0", () => {
    const { top_p: _, ...withoutTopP } = baseChat

    expect(cacheKeyOf(chatInput(withoutTopP))).not.toBe(cacheKeyOf(chatInput({ ...withoutTopP, top_p: 0 })))
  })

  it("changes with the route and endpoint", () => {
    expect(cacheKeyOf(chatInput(baseChat, { provider: "azure" }))).not.toBe(baseKey)
    expect(cacheKeyOf(chatInput(baseChat, { upstreamModel: "gpt-4o-mini" }))).not.toBe(baseKey)
    expect(cacheKeyOf(chatInput(baseChat, { endpoint: "embeddings" }))).not.toBe(baseKey)
  })

  it("isolates namespaces", () => {
    const research = cacheKeyOf(chatInput(baseChat, { namespace: "team:research" }))
    const sales = cacheKeyOf(chatInput(baseChat, { namespace: "team:sales" }))
    const global = cacheKeyOf(chatInput(baseChat, { namespace: "global" }))

    expect(new Set([research, sales, global]).size).toBe(3)
  })

  it("keys embeddings by input, format and dimensions", () => {
    const embeddings = (request: Body) => cacheKeyOf(chatInput(request, { endpoint: "embeddings", upstreamModel: "text-embedding-3-small" }))
    const base = embeddings(baseEmbeddings)

    expect(embeddings({ ...baseEmbeddings, input: ["first text", "other text"] })).not.toBe(base)
    expect(embeddings({ ...baseEmbeddings, input: "first text" })).not.toBe(base)
    expect(embeddings({ ...baseEmbeddings, encoding_format: "base64" })).not.toBe(base)
    expect(embeddings({ ...baseEmbeddings, dimensions: 512 })).not.toBe(base)
    expect(embeddings({ ...baseEmbeddings, user: "end-user-42" })).toBe(base)
  })
})

describe("cache key stability", () => {
  // Computed by the first version of the key, so that a rewrite of the key's code keeps finding
  // the entries that earlier versions wrote to a shared Redis store.
  it("key: same as the first version", () => {
    const request = { ...baseChat, stop: "END", user: "u1", zeta: { b: [1, { y: 2, x: null }], a: "ü\u2028" } }

    expect(cacheKeyOf({ namespace: "team:research", endpoint: "chat", provider: "openai", upstreamModel: "gpt-4.1-nano", request })).toBe(
      "159206609a95353e8dfad7c8417f4f8097738abf1713eb19ab6ab6108ac27baa"
    )
  })
})

describe("canonicalJson", () => {
  it("sorts keys at every depth", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}')
  })

  it("writes strings and numbers as JSON does", () => {
    const value = { text: "quote \" and \u2028 and 🌍", number: 1e21, small: 1e-7, negativeZero: -0 }

    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)))
  })

  it("skips undefined members", () => {
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}')
  })
})
