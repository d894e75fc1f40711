/**
 * Requests whose cost is unknown, counted alike by the usage totals, the
 * forecaster and `/metrics`. A stream that the provider started and then cut
 * off fails, yet its text was generated and likely billed, so for a model
 * without a price its cost is unknown. A request without a provider's
 * success response costs 0 and is not unknown.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postJson, requestIdOf, startHarness, waitForRecord, type Harness } from "./harness.js"

const UNPRICED_MODEL = "unpriced-model"

const pluginsYaml = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/forecaster"
`

const ONLY_UNPRICED_MODEL = "only-unpriced-model"

const modelsYaml = `  ${UNPRICED_MODEL}:
    provider: openai
    model: no-price-model-1
  ${ONLY_UNPRICED_MODEL}:
    provider: openai
    model: no-price-model-2
`

let harness: Harness

/** Streams a chat completion from the unpriced model, which the upstream cuts off after three writes. */
const sendCutStream = async (): Promise<string> => {
  harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", stopAfterWrites: 3 })
  const response = await postJson(harness.gateway, "/v1/chat/completions", {
    model: UNPRICED_MODEL,
    stream: true,
    messages: [{ role: "user", content: "What is the capital of the UK?" }]
  })
  await response.text()
  return requestIdOf(response.headers)
}

/** Sends a chat request that the upstream rejects with 500 before any response. */
const sendRejected = async (): Promise<string> => {
  harness.upstream.enqueue({
    status: 500,
    body: JSON.stringify({ error: { message: "The server had an error", type: "server_error", param: null, code: null } })
  })
  const response = await postJson(harness.gateway, "/v1/chat/completions", {
    model: UNPRICED_MODEL,
    messages: [{ role: "user", content: "Fail, please." }]
  })
  await response.text()
  return requestIdOf(response.headers)
}

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml, modelsYaml })
})

afterAll(async () => {
  await harness?.close()
})

describe("unknown cost counts", () => {
  it("agree across usage, forecast and metrics", async () => {
    const cut = await waitForRecord(harness.gateway, await sendCutStream())
    const rejected = await waitForRecord(harness.gateway, await sendRejected())

    expect(cut.status).toBe("error")
    expect(cut.completionTokens).toBeGreaterThan(0)
    expect(cut.costUsd).toBeNull()
    expect(rejected.status).toBe("error")
    expect(rejected.costUsd).toBe(0)

    const usage = await (await fetch(`${harness.gateway.url}/v1/fluxen/usage?group_by=model`)).json()
    const forecast = await (await fetch(`${harness.gateway.url}/v1/fluxen/forecast?scope=model:${UNPRICED_MODEL}&period=day`)).json()
    const metrics = await (await fetch(`${harness.gateway.url}/metrics`)).text()

    expect(usage.data).toHaveLength(1)
    expect(usage.data[0].requests).toBe(2)
    expect(usage.data[0].errors).toBe(2)
    expect(usage.data[0].unknownCostRequests).toBe(1)
    expect(forecast.today.unpriced_requests).toBe(1)
    expect(metrics).toContain('fluxen_unpriced_requests_total{provider="openai",model="no-price-model-1"} 1\n')
  })

  it("all-unknown group has null cost", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const response = await postJson(harness.gateway, "/v1/chat/completions", {
      model: ONLY_UNPRICED_MODEL,
      messages: [{ role: "user", content: "What is the capital of the UK?" }]
    })
    await response.text()
    const record = await waitForRecord(harness.gateway, requestIdOf(response.headers))
    expect(record.costUsd).toBeNull()

    const usage = await (await fetch(`${harness.gateway.url}/v1/fluxen/usage?group_by=model`)).json()
    const row = usage.data.find((total: { group: string }) => total.group === "no-price-model-2")

    expect(row.requests).toBe(1)
    expect(row.unknownCostRequests).toBe(1)
    // Never $0 for a group whose every cost is unknown.
    expect(row.costUsd).toBeNull()
  })
})
