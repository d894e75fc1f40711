/**
 * `GET /metrics` after a client sends more unknown model names than the
 * gateway keeps `model` label values for (500). The unknown names must all
 * count under `model="(unknown)"`, so a configured model requested after
 * them still gets a series of its own rather than `other`.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf, NO_PLUGINS, postJson, startHarness, type Harness } from "./harness.js"

const TEXT = "openai/chat-completions/text.json"
/** One more than the default cap on distinct `model` label values. */
const UNKNOWN_NAMES = 501

const question = [{ role: "user" as const, content: "Hello" }]

let harness: Harness
let metricsText: string
const statuses: Array<number | undefined> = []

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })

  for (let i = 0; i < UNKNOWN_NAMES; i++) {
    const error = await failureOf(harness.client.chat.completions.create({ model: `no-such-model-${i}`, messages: question }))
    statuses.push(error instanceof OpenAI.APIError ? error.status : undefined)
  }
  // Invalid bodies fail before routing too: one names an unknown model, one a configured one.
  const invalidUnknown = await postJson(harness.gateway, "/v1/chat/completions", { model: "no-such-model-invalid", messages: "Hello" })
  const invalidConfigured = await postJson(harness.gateway, "/v1/chat/completions", { model: "gpt-4.1-nano", messages: "Hello" })
  statuses.push(invalidUnknown.status, invalidConfigured.status)
  await invalidUnknown.text()
  await invalidConfigured.text()

  harness.upstream.enqueue({ fixture: TEXT })
  await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: question })

  // A request is counted in the metrics just before its usage record is queued, so once every record is written, every request is counted.
  const expectedRecords = UNKNOWN_NAMES + 3
  const deadline = performance.now() + 10_000
  while ((await harness.gateway.usageRecords()).length < expectedRecords) {
    if (performance.now() > deadline) throw new Error(`Expected ${expectedRecords} usage records within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  metricsText = await (await fetch(`${harness.gateway.url}/metrics`)).text()
}, 60_000)

afterAll(async () => {
  await harness?.close()
})

/** Returns the value of the one `fluxen_requests_total` sample with these labels, or undefined. */
const requestsOf = (labels: string): number | undefined => {
  const line = metricsText.split("\n").find((candidate) => candidate.startsWith(`fluxen_requests_total{${labels}} `))
  return line === undefined ? undefined : Number(line.split(" ")[1])
}

describe("GET /metrics with unknown models", () => {
  it("rejects every unknown model", () => {
    expect(statuses.slice(0, UNKNOWN_NAMES).every((status) => status === 404)).toBe(true)
    expect(statuses.slice(UNKNOWN_NAMES)).toEqual([400, 400])
  })

  it("counts unknown names as (unknown)", () => {
    expect(requestsOf('provider="(none)",model="(unknown)",endpoint="chat",status="error",cache="none"')).toBe(UNKNOWN_NAMES + 1)
    expect(metricsText).not.toContain("no-such-model")
  })

  it("keeps labels for configured models", () => {
    expect(requestsOf('provider="openai",model="gpt-4o-mini-2024-07-18",endpoint="chat",status="ok",cache="none"')).toBe(1)
    expect(requestsOf('provider="(none)",model="gpt-4.1-nano",endpoint="chat",status="error",cache="none"')).toBe(1)
    expect(metricsText).not.toContain('model="other"')
  })
})
