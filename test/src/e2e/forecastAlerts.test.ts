/**
 * Forecast alerts from the forecaster's background checks in a running
 * gateway: a budget projected past its limit reaches a local webhook once
 * per threshold, however many checks run.
 */
import { UsageStore, type UsageRecord } from "@fluxen/runtime"
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startHarness, type Harness } from "./harness.js"

const CHECK_INTERVAL_MS = 100

interface Webhook {
  readonly url: string
  readonly received: Array<Record<string, unknown>>
  readonly close: () => Promise<void>
}

const startWebhook = async (): Promise<Webhook> => {
  const received: Array<Record<string, unknown>> = []
  const server = createServer((request, response) => {
    let text = ""
    request.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")))
    request.on("end", () => {
      received.push(JSON.parse(text) as Record<string, unknown>)
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
  }
}

const record = (overrides: Partial<UsageRecord>): UsageRecord => ({
  requestId: `seed_${Math.random().toString(36).slice(2)}`,
  createdAt: new Date(),
  keyId: null,
  team: null,
  requestedModel: "gpt-4.1-nano",
  resolvedModel: "gpt-4.1-nano",
  provider: "openai",
  endpoint: "chat",
  status: "ok",
  httpStatus: 200,
  stream: false,
  promptTokens: 10,
  completionTokens: 10,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  usageEstimated: false,
  costUsd: 0,
  priceVersion: "seed",
  cacheStatus: null,
  costSavedUsd: null,
  firstByteMs: 50,
  totalMs: 100,
  errorType: null,
  metadata: null,
  ...overrides
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let webhook: Webhook
let harness: Harness

beforeAll(async () => {
  webhook = await startWebhook()
  harness = await startHarness({
    pluginsYaml: `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/forecaster"
    config:
      adminKey: "forecast-admin-key-0123456789"
      webhookUrl: ${webhook.url}
      checkInterval: ${CHECK_INTERVAL_MS}
      budgets:
        - { scope: "key:key_alert", period: day, limitUsd: 1, alertAt: [0.5, 1] }
        - { scope: "key:key_quiet", period: day, limitUsd: 1 }
`
  })
})

afterAll(async () => {
  await harness?.close()
  await webhook?.close()
})

describe("forecast alerts", () => {
  it("reach the webhook once per threshold", async () => {
    const nowMs = Date.now()
    const startOfToday = nowMs - (nowMs % 86_400_000)
    await Effect.runPromise(
      Effect.flatMap(UsageStore, (store) =>
        store.insertBatch([record({ keyId: "key_alert", costUsd: 5, createdAt: new Date(Math.max(startOfToday, nowMs - 1_000)) })])
      ).pipe(Effect.provide(harness.gateway.running.services))
    )

    const deadline = performance.now() + 5_000
    while (webhook.received.length < 2 && performance.now() < deadline) await sleep(20)
    // Ten more checks must not send anything again.
    await sleep(10 * CHECK_INTERVAL_MS)

    expect(webhook.received).toHaveLength(2)
    const thresholds = webhook.received.map((body) => body.threshold).sort()
    expect(thresholds).toEqual([0.5, 1])
    for (const body of webhook.received) {
      expect(body).toMatchObject({
        type: "fluxen.forecast.budget_alert",
        budget: { scope: "key:key_alert", period: "day", limit_usd: 1 },
        period_start: new Date(startOfToday).toISOString().slice(0, 10),
        spent_usd: 5,
        status: "exceeded"
      })
    }
  })
})

describe("forecaster configuration", () => {
  it("rejects an invalid budget scope with its YAML path", async () => {
    const started = startHarness({
      pluginsYaml: `plugins:
  - use: "@fluxen/forecaster"
    config:
      budgets:
        - { scope: "user:bob", period: month, limitUsd: 5 }
`
    })

    await expect(started).rejects.toThrow('plugins[0].config.budgets[0].scope: Invalid scope "user:bob"')
  })
})
