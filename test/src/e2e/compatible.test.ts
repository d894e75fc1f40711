import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"

const providersYaml = (upstreamUrl: string) => `  groq:
    use: "@fluxen/provider-openai"
    config:
      preset: groq
      baseUrl: ${upstreamUrl}/groq/v1
      apiKey: gsk-test-key
  mistral:
    use: "@fluxen/provider-openai"
    config:
      preset: mistral
      baseUrl: ${upstreamUrl}/mistral/v1
      apiKey: mistral-test-key
  openrouter:
    use: "@fluxen/provider-openai"
    config:
      preset: openrouter
      baseUrl: ${upstreamUrl}/openrouter/v1
      apiKey: or-test-key
  azure:
    use: "@fluxen/provider-azure-openai"
    config:
      endpoint: ${upstreamUrl}/azure
      apiKey: azure-test-key
      deployments:
        gpt-4o-mini: team-gpt4o-mini
`

const modelsYaml = `  llama-3.3-70b-versatile:
    provider: groq
  mistral-small-latest:
    provider: mistral
  gemini-free:
    provider: openrouter
    model: google/gemini-2.0-flash-exp:free
  azure-mini:
    provider: azure
    model: gpt-4o-mini
`

const tools = [
  {
    type: "function" as const,
    function: { name: "weather", parameters: { type: "object", properties: { location: { type: "string" } } } }
  }
]

describe("OpenAI-compatible presets and Azure", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let client: OpenAI

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      providersYaml: providersYaml(upstream.url),
      modelsYaml,
      pluginsYaml: "plugins: []"
    })
    client = new OpenAI({ baseURL: gateway.baseURL, apiKey: "client-key", maxRetries: 0 })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("groq stream reports usage from the finish chunk", async () => {
    upstream.enqueue({ fixture: "openai-compatible/chat-completions/groq-tool-call-stream.chunks.txt", writes: { bytes: 11 } })
    const stream = await client.chat.completions.create({
      model: "llama-3.3-70b-versatile",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools,
      stream: true
    })
    const calls: Array<{ name?: string | undefined; arguments?: string | undefined }> = []
    let finish: string | null = null
    let usageChunks = 0
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) calls.push({ name: call.function?.name, arguments: call.function?.arguments })
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usageChunks++
    }
    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/groq/v1/chat/completions")
    expect(request.headers["authorization"]).toBe("Bearer gsk-test-key")
    expect((request.json as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true })
    expect(calls).toHaveLength(1)
    expect(calls[0]!.arguments).toBe("{}")
    expect(finish).toBe("tool_calls")
    // Fluxen asked for the usage, not the client, so the finish chunk reaches the client without it.
    expect(usageChunks).toBe(0)

    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("groq")
    expect(record.status).toBe("ok")
    expect(record.promptTokens).toBeGreaterThan(0)
    expect(record.usageEstimated).toBe(false)
  })

  it("groq usage asked for: kept", async () => {
    upstream.enqueue({ fixture: "openai-compatible/chat-completions/groq-tool-call-stream.chunks.txt", writes: "per-event" })
    const stream = await client.chat.completions.create({
      model: "llama-3.3-70b-versatile",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools,
      stream: true,
      stream_options: { include_usage: true }
    })
    const usages: Array<unknown> = []
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage)

    expect(usages).toHaveLength(1)
    expect(usages[0]).toMatchObject({ prompt_tokens: 210, completion_tokens: 15 })
  })

  it("mistral stream without stream_options keeps its tool call and usage", async () => {
    upstream.enqueue({ fixture: "openai-compatible/chat-completions/mistral-tool-call-stream.chunks.txt", writes: "per-event" })
    const stream = await client.chat.completions.create({
      model: "mistral-small-latest",
      messages: [{ role: "user", content: "Weather in San Francisco?" }],
      tools,
      stream: true
    })
    let argumentsText = ""
    let name = ""
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += call.function?.name ?? ""
        argumentsText += call.function?.arguments ?? ""
      }
    }
    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/mistral/v1/chat/completions")
    expect((request.json as Record<string, unknown>)["stream_options"]).toBeUndefined()
    expect(name).toBe("weather")
    expect(JSON.parse(argumentsText)).toEqual({ location: "San Francisco" })

    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.promptTokens).toBe(124)
    expect(record.completionTokens).toBe(22)
    expect(record.usageEstimated).toBe(false)
  })

  it("mistral tool call: SDK helper gets it", async () => {
    upstream.enqueue({ fixture: "openai-compatible/chat-completions/mistral-tool-call-stream.chunks.txt", writes: "single" })
    // The stream helper joins tool call deltas by `index`, which Mistral does not send.
    const completion = await client.chat.completions
      .stream({
        model: "mistral-small-latest",
        messages: [{ role: "user", content: "Weather in San Francisco?" }],
        tools,
        stream_options: { include_usage: true }
      })
      .finalChatCompletion()

    const call = completion.choices[0]!.message.tool_calls![0] as { type: string; function: { name: string; arguments: string } }
    expect(call.type).toBe("function")
    expect(call.function.name).toBe("weather")
    expect(JSON.parse(call.function.arguments)).toEqual({ location: "San Francisco" })
    // Mistral rejects `stream_options`, so the client's own is not forwarded either.
    expect((upstream.requests.at(-1)!.json as Record<string, unknown>)["stream_options"]).toBeUndefined()
  })

  it("openrouter 429 keeps its numeric code and status", async () => {
    upstream.enqueue({ fixture: "openai-compatible/chat-completions/error-429-openrouter.json", headers: { "retry-after": "7" } })
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gemini-free", messages: [{ role: "user", content: "hi" }] })
    })
    const body = (await response.json()) as { error: Record<string, unknown> }
    expect(response.status).toBe(429)
    expect(response.headers.get("retry-after")).toBe("7")
    expect(body.error["code"]).toBe(429)
    expect(body.error["message"]).toBe("Provider returned error")
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"])
    expect(JSON.stringify(body)).not.toContain("user_0000")
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("google/gemini-2.0-flash-exp:free")
  })

  it("azure uses deployment URLs, api-version and the api-key header", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "azure-mini", messages: [{ role: "user", content: "hi" }] })
    expect(completion.choices[0]!.finish_reason).toBe("stop")
    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/azure/openai/deployments/team-gpt4o-mini/chat/completions?api-version=2024-10-21")
    expect(request.headers["api-key"]).toBe("azure-test-key")
    expect(request.headers["authorization"]).toBeUndefined()
  })
})
