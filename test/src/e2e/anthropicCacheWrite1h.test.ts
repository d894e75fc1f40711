/**
 * 1-hour prompt-cache writes through `POST /v1/messages` with the official
 * Anthropic SDK: the usage record keeps the 1-hour part of the cache writes
 * and prices it at `cacheWrite1h` (twice the input price), not at the
 * 5-minute `cacheWrite` price. Usage goes to PostgreSQL, so the stored
 * column is the migrated one.
 *
 * No shared recording has 1-hour writes. The replies are real recordings
 * with only their cache-write counts edited: 418 written tokens, 300 of them
 * with the 1-hour lifetime.
 */
import type Anthropic from "@anthropic-ai/sdk"
import type { UsageRecord } from "@fluxen/runtime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { anthropicProviderYaml, fixtureJson, makeAnthropicClient, startHarness, streamPayloads, waitForNewRecord, waitForRecord, recordIds, type Harness } from "./harness.js"

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
`

const cacheCreation = { ephemeral_5m_input_tokens: 118, ephemeral_1h_input_tokens: 300 }

const jsonBody = (): string => {
  const message = fixtureJson("anthropic/messages/cache-read-and-write.json")
  return JSON.stringify({ ...message, usage: { ...message.usage, cache_creation_input_tokens: 418, cache_creation: cacheCreation } })
}

// message_start gets the split, and message_delta repeats the total without it, as Anthropic's deltas do.
const streamBody = (): string =>
  streamPayloads("anthropic/messages/text-stream.chunks.txt")
    .map((payload) => {
      if (payload.type === "message_start") {
        payload.message.usage = { ...payload.message.usage, cache_creation_input_tokens: 418, cache_creation: cacheCreation }
      }
      if (payload.type === "message_delta") payload.usage = { ...payload.usage, cache_creation_input_tokens: 418 }
      return `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`
    })
    .join("")

const params: Anthropic.MessageCreateParamsNonStreaming = {
  model: "claude-sonnet-4-5",
  max_tokens: 100,
  messages: [{ role: "user", content: "What is Python?" }]
}

let harness: Harness
let client: Anthropic

beforeAll(async () => {
  harness = await startHarness({ providersYaml: anthropicProviderYaml, modelsYaml, database: "postgres" })
  client = makeAnthropicClient(harness.gateway)
})

afterAll(async () => {
  await harness?.close()
})

const expectCacheWrites = (record: UsageRecord): void => {
  expect(record.cacheWriteTokens).toBe(418)
  expect(record.cacheWrite1hTokens).toBe(300)
}

describe("1-hour cache writes on /v1/messages", () => {
  it("JSON reply priced at cacheWrite1h", async () => {
    harness.upstream.enqueue({ body: jsonBody(), headers: { "content-type": "application/json" } })

    const { data: message, response } = await client.messages.create(params).withResponse()
    const record = await waitForRecord(harness.gateway, response.headers.get("x-fluxen-request-id")!)

    expect(message.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(300)
    expectCacheWrites(record)
    expect(record.promptTokens).toBe(1532)
    // 3 × $3 + 1111 × $0.30 + 118 × $3.75 + 300 × $6 + 33 × $15 = 3079.8 micro-dollars
    expect(record.costUsd).toBeCloseTo(0.0030798, 12)
  })

  it("stream priced at cacheWrite1h", async () => {
    harness.upstream.enqueue({ body: streamBody(), headers: { "content-type": "text/event-stream" } })
    const before = await recordIds(harness.gateway)

    const message = await client.messages.stream(params).finalMessage()
    const record = await waitForNewRecord(harness.gateway, before)

    expect(message.usage.cache_creation_input_tokens).toBe(418)
    expectCacheWrites(record)
    expect(record.promptTokens).toBe(430)
    // 12 × $3 + 118 × $3.75 + 300 × $6 + 30 × $15 = 2728.5 micro-dollars
    expect(record.costUsd).toBeCloseTo(0.0027285, 12)
  })
})
