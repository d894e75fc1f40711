/**
 * A Gemini 3 tool loop through `POST /v1/messages` with the official
 * Anthropic SDK. The client sends back only `id`, `name` and `input` of the
 * `tool_use` block, as many Anthropic clients do, so the function call's
 * thought signature must survive in the id. Without it Gemini 3 rejects the
 * second turn.
 */
import Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { geminiResponseFromStream, NO_PLUGINS, streamPayloads } from "./harness.js"

const providersYaml = (upstreamUrl: string) => `  gemini:
    use: "@fluxen/provider-gemini"
    config:
      baseUrl: ${upstreamUrl}/v1beta
      apiKey: gemini-test-upstream-key
`

const modelsYaml = `  gemini-3-pro-preview:
    provider: gemini
`

const TOOL_CALL_FIXTURE = "gemini/stream-generate-content/tool-call-stream.chunks.txt"
const ANSWER_FIXTURE = "gemini/stream-generate-content/text-stream.sse"
const CALL_SIGNATURE: string = streamPayloads(TOOL_CALL_FIXTURE)[0].candidates[0].content.parts[0].thoughtSignature
const QUESTION = "What is the weather in San Francisco?"

const weatherTool: Anthropic.Tool = {
  name: "weather",
  description: "Current weather of a city",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
}

let upstream: ReplayUpstream
let gateway: TestGateway
let client: Anthropic

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({
    upstreamUrl: upstream.url,
    providersYaml: providersYaml(upstream.url),
    modelsYaml,
    pluginsYaml: NO_PLUGINS
  })
  // No retries, because a retried request would take the next reply queued on the upstream.
  client = new Anthropic({ baseURL: gateway.url, apiKey: "client-key", maxRetries: 0 })
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const deliveries = [
  {
    name: "streamed",
    enqueue: (fixture: string) => upstream.enqueue({ fixture, writes: { bytes: 7 } }),
    run: (params: Anthropic.MessageCreateParamsNonStreaming) => client.messages.stream(params).finalMessage()
  },
  {
    name: "non-streamed",
    enqueue: (fixture: string) => upstream.enqueue({ body: JSON.stringify(geminiResponseFromStream(fixture)) }),
    run: (params: Anthropic.MessageCreateParamsNonStreaming) => client.messages.create(params)
  }
]

/** Returns the only `tool_use` block of a message, rebuilt from the three fields every client keeps. */
const onlyToolUse = (message: Anthropic.Message): Anthropic.ToolUseBlockParam => {
  const blocks = message.content.filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use")
  expect(blocks).toHaveLength(1)
  const { id, name, input } = blocks[0]!
  return { type: "tool_use", id, name, input }
}

describe("messages tool loop to gemini", () => {
  for (const delivery of deliveries) {
    it(`returns the call signature (${delivery.name})`, async () => {
      const firstMessages: Array<Anthropic.MessageParam> = [{ role: "user", content: QUESTION }]
      delivery.enqueue(TOOL_CALL_FIXTURE)
      const turn1 = await delivery.run({ model: "gemini-3-pro-preview", max_tokens: 1024, tools: [weatherTool], messages: firstMessages })

      expect(turn1.stop_reason).toBe("tool_use")
      const toolUse = onlyToolUse(turn1)
      expect(toolUse.name).toBe("weather")
      expect(toolUse.input).toEqual({ location: "San Francisco" })
      expect(toolUse.id).toMatch(/^[A-Za-z0-9_-]+$/)

      delivery.enqueue(ANSWER_FIXTURE)
      const turn2 = await delivery.run({
        model: "gemini-3-pro-preview",
        max_tokens: 1024,
        tools: [weatherTool],
        messages: [
          ...firstMessages,
          { role: "assistant", content: [toolUse] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: '{"temperature": 18, "unit": "C"}' }] }
        ]
      })

      const request2 = upstream.requests.at(-1)!.json as Record<string, any>
      expect(request2.contents).toEqual([
        { role: "user", parts: [{ text: QUESTION }] },
        { role: "model", parts: [{ functionCall: { name: "weather", args: { location: "San Francisco" } }, thoughtSignature: CALL_SIGNATURE }] },
        { role: "user", parts: [{ functionResponse: { name: "weather", response: { temperature: 18, unit: "C" } } }] }
      ])
      expect(turn2.content).toEqual([{ type: "text", text: "The capital of France is Paris.\n" }])
    })
  }

  it("gives each response new tool ids", async () => {
    const params = { model: "gemini-3-pro-preview", max_tokens: 1024, tools: [weatherTool], messages: [{ role: "user" as const, content: QUESTION }] }
    upstream.enqueue({ fixture: TOOL_CALL_FIXTURE })
    const first = onlyToolUse(await client.messages.stream(params).finalMessage())
    upstream.enqueue({ fixture: TOOL_CALL_FIXTURE })
    const second = onlyToolUse(await client.messages.stream(params).finalMessage())

    expect(first.id).not.toBe(second.id)
  })
})
