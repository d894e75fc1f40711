/**
 * OpenAI-shaped chat through Fluxen to Google's Gemini API, with the OpenAI
 * SDK as the client and recorded Gemini responses replayed by the upstream.
 * Gemini repeats cumulative `usageMetadata` in every stream event, so the
 * last one must win, and thought tokens count as completion tokens. Costs are
 * compared with hand computations from the prices in `config/pricing.json`.
 */
import OpenAI from "openai"
import { readFileSync } from "node:fs"
import type { UsageRecord } from "@fluxen/runtime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream, type WritePattern } from "../support/replayUpstream.js"
import { CLIENT_API_KEY, fixtureText, makeClient, requestIdOf, waitForRecord } from "./harness.js"

type ChatChunk = OpenAI.Chat.Completions.ChatCompletionChunk

const GEMINI_KEY = "gemini-test-upstream-key"

const providersYaml = (upstreamUrl: string) => `  gemini:
    use: "@fluxen/provider-gemini"
    config:
      baseUrl: ${upstreamUrl}/v1beta
      apiKey: ${GEMINI_KEY}
`

// The client names are also the upstream names, and all three are priced.
const modelsYaml = `  gemini-2.0-flash:
    provider: gemini
  gemini-2.5-flash:
    provider: gemini
  gemini-3-pro-preview:
    provider: gemini
`

type GeminiModel = "gemini-2.0-flash" | "gemini-2.5-flash" | "gemini-3-pro-preview"

/** Prices in USD per million tokens, as the hand computations below use them. */
const PRICES: Readonly<Record<GeminiModel, { input: number; cachedInput: number; output: number }>> = {
  "gemini-2.0-flash": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  "gemini-2.5-flash": { input: 0.3, cachedInput: 0.03, output: 2.5 },
  "gemini-3-pro-preview": { input: 2, cachedInput: 0.2, output: 12 }
}

interface ExpectedUsage {
  readonly promptTokens: number
  /** candidatesTokenCount + thoughtsTokenCount of the last event. */
  readonly completionTokens: number
  readonly reasoningTokens: number
  /** Computed by hand: prompt × input + completion × output, per million. No recording has cached tokens. */
  readonly costUsd: number
}

interface ExpectedToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
  readonly thoughtSignature: string
}

interface Case {
  readonly fixture: string
  readonly model: GeminiModel
  readonly text: string | null
  readonly toolCalls: ReadonlyArray<ExpectedToolCall>
  /** The signature Gemini put on a text part, returned in `extra_content.google.thought_signature`. */
  readonly textSignature?: string
  readonly finishReason: "stop" | "length" | "tool_calls"
  readonly usage: ExpectedUsage
}

const TEXT_SIGNATURE =
  "EqsFCqgFAb4+9vvtAF5n87lB4OGDOoTRMOqp35jW65XsYXh6BySMwl9nvrbAvPcl2U0xITaYUyV4CmREEDB1z0ZPpCg7iEwiZcj40Eh1jXoL8Y/BbPqxdgZKvKxdBsJx92y2ML5ytajQHVFQb9ohEMMnjs9uNadLAhDEsOU1nC5tl3FQkx94uaGfWvg61bJT3Y9OxFdo/kbpm4RBngvYhVkBzHKkHBj72T2bUd8J4HPssi7ORC5iPosPRIOyH/CAVHEtMzFYMwb7OhRu+CW8Z9u7gDieME5iJjXtJtLrNGDxgR7XtWfRRyGjsj6uDS+KvjR3SUSWPdn5eeH6w+LXZm1X///Hvhhcx+NHxsuGjF3fGhyzTVAoIzk0lxyB4+/A9I4Xa0o/T4coVDiewMzGZDwmket//ig8x9UC8cyWr/hy1joZWUO7ooJlLncv8gy4Ng+y1JdievZokSFDNWfMMNAQr3kgUwJDucqDp44C1xMtgR3lhJ75IBBnprHCE/ThgvNXujmqNkwAjp5dS4PjVbrw8fqSylfE80tvU0g9dXqg4pEyG+hGIxbANLhsWjAKLqh69hyqvVLg2Ds3wppphf61IfC4VoeLWj85CjBZMf+k85NsUIJQ6+DQS9IPNbM29ZOzpUbHoWKJB6VzNCSJse7Pi07L+pd6skl77km00y4lJdHIGHfEgi8PaOonakBcxbRqKzGJAA/urlP0tiWya2fTWrvNZOybJHyyofNNSI4s5y76yKEjP1wnPqC7ujrQk6xb7eyCeqH9ekByy3vv0JfgERFptoSUoG2toIr9M3lS/LKpnwfCvZh+z3J0iMb83d4MaPKhGhE49J4660XUsEmjygAZNi9HnjfC3KtaU/07Sx4JCezMtpsLKUxBgy4xaNqwew3FwAG37eeWcow="

const TOOL_CALL_SIGNATURE =
  "EqUCCqICAb4+9vsh8Pd5taZVoPzSvjWWwzBrvhEQWBLCGa7IdY8FBMm7Z6dCKFU3Ft0la15gF7RaHe1NlPRygQec0bFwPDfMwGcUOMNiJiNIKxusCs4ejCZRuouNYQ4etEIt7CujEUHiILLfZXSJZYhs4UCrD2bLqPq0sE0lWgYJnzHkkKUOnMsA2hKffAhtF4DWn5INYj8pPssvch/2VpDFW2F9XSE04zLDzkIWF2eztJX50Y0lTehRZC3FW7fOrXCzGx+PwdataD6eXlF5O1zn+86XtmktOs2DEp4o1PMvXFFAXe8GGvPt8Idf3UtHMq7AsapwMW9sjiKj+FJk54m+9LMTSaj7C86smfvoQryYBEHTVazr1bEnpl4bPG5JUtm2yAMkHj4="

const streamCases: ReadonlyArray<Case> = [
  {
    fixture: "gemini/stream-generate-content/text-stream.sse",
    model: "gemini-2.0-flash",
    text: "The capital of France is Paris.\n",
    toolCalls: [],
    finishReason: "stop",
    // The first events report promptTokenCount 15, the last one 13 with candidatesTokenCount 8:
    // 13 × 0.1 + 8 × 0.4 = 4.5 micro-dollars
    usage: { promptTokens: 13, completionTokens: 8, reasoningTokens: 0, costUsd: 0.0000045 }
  },
  {
    fixture: "gemini/stream-generate-content/cumulative-usage-stream.sse",
    model: "gemini-2.5-flash",
    text: Array.from({ length: 30 }, (_, index) => String(index + 1)).join("\n"),
    toolCalls: [],
    finishReason: "stop",
    // Last event: prompt 18, candidates 80, thoughts 35. 18 × 0.3 + (80 + 35) × 2.5 = 5.4 + 287.5 = 292.9 micro-dollars
    usage: { promptTokens: 18, completionTokens: 115, reasoningTokens: 35, costUsd: 0.0002929 }
  },
  {
    fixture: "gemini/stream-generate-content/thinking-signature-stream.chunks.txt",
    model: "gemini-3-pro-preview",
    text: 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y',
    toolCalls: [],
    textSignature: TEXT_SIGNATURE,
    finishReason: "stop",
    // Last event: prompt 9, candidates 23, thoughts 185. 9 × 2 + (23 + 185) × 12 = 18 + 2496 = 2514 micro-dollars
    usage: { promptTokens: 9, completionTokens: 208, reasoningTokens: 185, costUsd: 0.002514 }
  },
  {
    fixture: "gemini/stream-generate-content/tool-call-stream.chunks.txt",
    model: "gemini-3-pro-preview",
    text: null,
    // The recording has no call id, so Fluxen numbers the calls from call_0 and adds a random suffix.
    toolCalls: [{ id: expect.stringMatching(/^call_0_[0-9a-f]{12}$/), name: "weather", arguments: '{"location":"San Francisco"}', thoughtSignature: TOOL_CALL_SIGNATURE }],
    finishReason: "tool_calls",
    // Last event: prompt 29, candidates 15, thoughts 45. 29 × 2 + (15 + 45) × 12 = 58 + 720 = 778 micro-dollars
    usage: { promptTokens: 29, completionTokens: 60, reasoningTokens: 45, costUsd: 0.000778 }
  }
]

const jsonCases: ReadonlyArray<Case> = [
  {
    fixture: "gemini/generate-content/max-tokens.json",
    model: "gemini-2.5-flash",
    text: "The capital of France is",
    toolCalls: [],
    finishReason: "length",
    // 15 × 0.3 + 5 × 2.5 = 4.5 + 12.5 = 17 micro-dollars
    usage: { promptTokens: 15, completionTokens: 5, reasoningTokens: 0, costUsd: 0.000017 }
  },
  {
    fixture: "gemini/generate-content/vertex-text.json",
    model: "gemini-2.5-flash",
    text: (JSON.parse(fixtureText("gemini/generate-content/vertex-text.json")) as any).candidates[0].content.parts[0].text,
    toolCalls: [],
    finishReason: "stop",
    // prompt 8, candidates 433, thoughts 1477. 8 × 0.3 + (433 + 1477) × 2.5 = 2.4 + 4775 = 4777.4 micro-dollars
    usage: { promptTokens: 8, completionTokens: 1910, reasoningTokens: 1477, costUsd: 0.0047774 }
  }
]

const writePatterns: ReadonlyArray<readonly [string, WritePattern]> = [
  ["single", "single"],
  ["per-event", "per-event"],
  ["1-byte", { bytes: 1 }],
  ["7-byte", { bytes: 7 }]
]

const tools: Array<OpenAI.Chat.Completions.ChatCompletionTool> = [
  {
    type: "function",
    function: {
      name: "weather",
      description: "Current weather of a city",
      parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
    }
  }
]

const SYSTEM_PROMPT = "Answer in one sentence."
const messages: Array<OpenAI.Chat.Completions.ChatCompletionMessageParam> = [
  { role: "system", content: SYSTEM_PROMPT },
  { role: "user", content: "What is the capital of France?" }
]

// ---------------------------------------------------------------------------
// Reading what the client received
// ---------------------------------------------------------------------------

interface AssembledToolCall {
  id: string
  name: string
  arguments: string
  thoughtSignature: string | undefined
}

interface Assembled {
  readonly text: string | null
  readonly textSignature: string | undefined
  readonly toolCalls: ReadonlyArray<AssembledToolCall>
  readonly finishReason: string | null
  readonly usage: OpenAI.Completions.CompletionUsage | undefined
}

interface SignatureHolder {
  readonly extra_content?: { readonly google?: { readonly thought_signature?: string } }
}

const signatureOf = (holder: unknown): string | undefined => (holder as SignatureHolder | undefined)?.extra_content?.google?.thought_signature

const assembleChunks = (chunks: ReadonlyArray<ChatChunk>): Assembled => {
  let text: string | null = null
  let textSignature: string | undefined
  const toolCalls: Array<AssembledToolCall> = []
  let finishReason: string | null = null
  let usage: OpenAI.Completions.CompletionUsage | undefined

  for (const chunk of chunks) {
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage
    for (const choice of chunk.choices) {
      const delta = choice.delta
      if (typeof delta.content === "string" && delta.content !== "") text = (text ?? "") + delta.content
      textSignature = signatureOf(delta) ?? textSignature
      for (const call of delta.tool_calls ?? []) {
        const existing = toolCalls[call.index]
        if (existing === undefined) {
          toolCalls[call.index] = {
            id: call.id ?? "",
            name: call.function?.name ?? "",
            arguments: call.function?.arguments ?? "",
            thoughtSignature: signatureOf(call)
          }
        } else {
          existing.arguments += call.function?.arguments ?? ""
        }
      }
      if (choice.finish_reason !== null) finishReason = choice.finish_reason
    }
  }
  return { text, textSignature, toolCalls, finishReason, usage }
}

const assembleCompletion = (completion: OpenAI.Chat.Completions.ChatCompletion): Assembled => {
  const choice = completion.choices[0]!
  const toolCalls = (choice.message.tool_calls ?? []).map((call) => {
    if (call.type !== "function") throw new Error(`Expected a function tool call, got ${call.type}`)
    return { id: call.id, name: call.function.name, arguments: call.function.arguments, thoughtSignature: signatureOf(call) }
  })
  return {
    text: choice.message.content,
    textSignature: signatureOf(choice.message),
    toolCalls,
    finishReason: choice.finish_reason,
    usage: completion.usage
  }
}

/** Returns the JSON payloads of a Gemini stream recording, in order. */
const geminiPayloads = (path: string): Array<any> => {
  const text = fixtureText(path)
  const lines = path.endsWith(".chunks.txt")
    ? text.split("\n").filter((line) => line !== "")
    : text
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice("data:".length).trim())
  return lines.map((line) => JSON.parse(line))
}

/**
 * Builds the `generateContent` response that carries the same parts and the
 * same final usage as a stream recording: the parts of every event in order,
 * and the finish reason and `usageMetadata` of the last event.
 */
const responseFromStream = (path: string): Record<string, any> => {
  const payloads = geminiPayloads(path)
  const last = payloads.at(-1)!
  const parts = payloads.flatMap((payload) => payload.candidates[0].content.parts)
  return {
    ...last,
    candidates: [{ ...last.candidates[0], content: { role: "model", parts } }]
  }
}

// ---------------------------------------------------------------------------
// Setup and calls
// ---------------------------------------------------------------------------

let upstream: ReplayUpstream
let gateway: TestGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startReplayUpstream()
  gateway = await startTestGateway({ upstreamUrl: upstream.url, providersYaml: providersYaml(upstream.url), modelsYaml })
  client = makeClient(gateway)
})

afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const streamChat = async (model: string): Promise<{ assembled: Assembled; record: UsageRecord }> => {
  const { data: stream, response } = await client.chat.completions
    .create({ model, messages, tools, stream: true, stream_options: { include_usage: true } })
    .withResponse()
  const chunks: Array<ChatChunk> = []
  for await (const chunk of stream) chunks.push(chunk)
  const record = await waitForRecord(gateway, requestIdOf(response.headers))
  return { assembled: assembleChunks(chunks), record }
}

const completeChat = async (model: string): Promise<{ assembled: Assembled; record: UsageRecord }> => {
  const { data: completion, response } = await client.chat.completions.create({ model, messages, tools }).withResponse()
  const record = await waitForRecord(gateway, requestIdOf(response.headers))
  return { assembled: assembleCompletion(completion), record }
}

const expectContent = (assembled: Assembled, expected: Case): void => {
  expect(assembled.text).toBe(expected.text)
  expect(assembled.textSignature).toBe(expected.textSignature)
  expect(assembled.toolCalls).toEqual(expected.toolCalls)
  expect(assembled.finishReason).toBe(expected.finishReason)
}

const expectClientUsage = (assembled: Assembled, expected: ExpectedUsage): void => {
  expect(assembled.usage?.prompt_tokens).toBe(expected.promptTokens)
  expect(assembled.usage?.completion_tokens).toBe(expected.completionTokens)
  expect(assembled.usage?.total_tokens).toBe(expected.promptTokens + expected.completionTokens)
  expect(assembled.usage?.completion_tokens_details?.reasoning_tokens ?? 0).toBe(expected.reasoningTokens)
}

const expectRecord = (record: UsageRecord, expected: Case, stream: boolean): void => {
  expect(record.status).toBe("ok")
  expect(record.httpStatus).toBe(200)
  expect(record.endpoint).toBe("chat")
  expect(record.stream).toBe(stream)
  expect(record.provider).toBe("gemini")
  expect(record.requestedModel).toBe(expected.model)
  expect(record.resolvedModel).toBe(expected.model)
  expect(record.usageEstimated).toBe(false)
  expect(record.promptTokens).toBe(expected.usage.promptTokens)
  expect(record.completionTokens).toBe(expected.usage.completionTokens)
  expect(record.reasoningTokens).toBe(expected.usage.reasoningTokens)
  expect(record.cachedInputTokens).toBe(0)
  expect(record.cacheWriteTokens).toBe(0)
  expect(record.costUsd).toBeCloseTo(expected.usage.costUsd, 12)
}

const fileName = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("gemini prices", () => {
  it("match the prices of the hand computations", () => {
    const pricing = JSON.parse(readFileSync(new URL("../../../config/pricing.json", import.meta.url), "utf8")) as {
      models: Record<string, Record<string, unknown>>
    }
    for (const [name, price] of Object.entries(PRICES)) {
      expect(pricing.models[name], name).toMatchObject(price)
    }
  })
})

// Every response gets its own random suffix on generated tool call ids, so results are compared without it.
const withoutIdSuffix = (assembled: Assembled): Assembled => ({
  ...assembled,
  toolCalls: assembled.toolCalls.map((call) => ({ ...call, id: call.id.replace(/_[0-9a-f]{12}$/, "") }))
})

describe("gemini streams", () => {
  for (const expected of streamCases) {
    describe(fileName(expected.fixture), () => {
      const received = new Map<string, Assembled>()

      it.each(writePatterns)("assembles from %s writes", async (pattern, writes) => {
        upstream.enqueue({ fixture: expected.fixture, writes })

        const { assembled, record } = await streamChat(expected.model)
        received.set(pattern, assembled)

        expectContent(assembled, expected)
        expectClientUsage(assembled, expected.usage)
        expectRecord(record, expected, true)
      })

      it("gives the same result for every write pattern", () => {
        expect([...received.keys()]).toEqual(writePatterns.map(([pattern]) => pattern))
        for (const [, assembled] of received) expect(withoutIdSuffix(assembled)).toEqual(withoutIdSuffix(received.get("single")!))
      })
    })
  }
})

describe("gemini json responses", () => {
  for (const expected of jsonCases) {
    it(`translates ${fileName(expected.fixture)}`, async () => {
      upstream.enqueue({ fixture: expected.fixture })

      const { assembled, record } = await completeChat(expected.model)

      expectContent(assembled, expected)
      expectClientUsage(assembled, expected.usage)
      expectRecord(record, expected, false)
    })
  }

  for (const expected of streamCases) {
    it(`records ${fileName(expected.fixture)} the same as its json form`, async () => {
      upstream.enqueue({ fixture: expected.fixture, writes: { bytes: 7 } })
      const streamed = await streamChat(expected.model)
      upstream.enqueue({ body: JSON.stringify(responseFromStream(expected.fixture)) })
      const whole = await completeChat(expected.model)

      expectContent(whole.assembled, expected)
      expectClientUsage(whole.assembled, expected.usage)
      expectRecord(whole.record, expected, false)
      expect(whole.record.costUsd).toBe(streamed.record.costUsd)
    })
  }
})

describe("gemini upstream request", () => {
  it("streams with the key in a header and the system prompt apart", async () => {
    upstream.enqueue({ fixture: "gemini/stream-generate-content/text-stream.sse" })
    const stream = await client.chat.completions.create({ model: "gemini-2.0-flash", messages, max_tokens: 64, stream: true })
    for await (const _chunk of stream) {
      // The request is what this test checks.
    }

    const request = upstream.requests.at(-1)!
    expect(request.method).toBe("POST")
    expect(request.path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
    expect(request.headers["x-goog-api-key"]).toBe(GEMINI_KEY)
    expect(request.headers["authorization"]).toBeUndefined()
    expect(JSON.stringify(request.headers)).not.toContain(CLIENT_API_KEY)
    const body = request.json as Record<string, any>
    expect(body.systemInstruction).toEqual({ parts: [{ text: SYSTEM_PROMPT }] })
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "What is the capital of France?" }] }])
    expect(body.generationConfig?.maxOutputTokens).toBe(64)
  })

  it("calls generateContent without streaming", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/max-tokens.json" })
    await client.chat.completions.create({ model: "gemini-2.5-flash", messages })

    const request = upstream.requests.at(-1)!
    expect(request.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    expect(request.headers["x-goog-api-key"]).toBe(GEMINI_KEY)
  })
})

describe("gemini errors", () => {
  const failedCall = async (stream: boolean, model: GeminiModel): Promise<OpenAI.APIError> => {
    const call = stream
      ? client.chat.completions.create({ model, messages, stream: true })
      : client.chat.completions.create({ model, messages })
    const error = await call.then(
      () => undefined,
      (caught: unknown) => caught
    )
    if (!(error instanceof OpenAI.APIError)) throw new Error(`Expected an OpenAI.APIError, got ${String(error)}`)
    return error
  }

  it("relays an invalid key on a stream as 400", async () => {
    upstream.enqueue({ fixture: "gemini/stream-generate-content/error-400-api-key-invalid.json" })

    const error = await failedCall(true, "gemini-2.5-flash")

    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect(error.status).toBe(400)
    expect(error.error).toEqual({
      message: "API key not valid. Please pass a valid API key.",
      type: "INVALID_ARGUMENT",
      param: null,
      code: "API_KEY_INVALID"
    })
    expect(error.headers!.get("content-type")).toMatch(/^application\/json/)
    expect(JSON.stringify(error.error)).not.toContain(GEMINI_KEY)
    expect(JSON.stringify(error.error)).not.toContain("googleapis.com")

    const record = await waitForRecord(gateway, error.headers!.get("x-fluxen-request-id")!)
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(400)
    expect(record.costUsd).toBe(0)
  })

  it("relays a 429 with retry-after from RetryInfo", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/error-429-resource-exhausted.json" })

    const error = await failedCall(false, "gemini-2.5-flash")

    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect(error.status).toBe(429)
    // RetryInfo.retryDelay "34.4s", rounded up to whole seconds.
    expect(error.headers!.get("retry-after")).toBe("35")
    expect(error.error).toEqual({
      message: "You exceeded your current quota, please check your plan.",
      type: "RESOURCE_EXHAUSTED",
      param: null,
      code: null
    })
    expect(JSON.stringify(error.error)).not.toContain("GenerateRequestsPerMinutePerProjectPerModel")

    const record = await waitForRecord(gateway, error.headers!.get("x-fluxen-request-id")!)
    expect(record.status).toBe("error")
    expect(record.httpStatus).toBe(429)
  })

  it("keeps the upstream's own retry-after on a 429", async () => {
    upstream.enqueue({ fixture: "gemini/generate-content/error-429-resource-exhausted.json", headers: { "retry-after": "12" } })

    const error = await failedCall(true, "gemini-2.5-flash")

    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect(error.headers!.get("retry-after")).toBe("12")
  })
})
