/**
 * The forecaster's scopes against the usage API's filters, on SQLite and on
 * PostgreSQL: after requests through the gateway, today's spend of each
 * forecaster scope must equal the usage totals of the filter that names the
 * same records.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postJson, requestIdOf, sendRejectedChat, startHarness, waitForRecord, type Harness } from "./harness.js"

const ADMIN_KEY = "forecast-scope-admin-key-0123"

const pluginsYaml = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/forecaster"
    config:
      adminKey: "${ADMIN_KEY}"
`

const question = [{ role: "user" as const, content: "What is the capital of the UK?" }]

interface DayBody {
  readonly date: string
  readonly cost_usd: number
  readonly requests: number
}

interface UsageTotalBody {
  readonly group: string
  readonly requests: number
  readonly costUsd: number | null
}

/**
 * Sends a reply through the alias gpt-4o-mini (upstream model gpt-4o-mini-2024-07-18), a request
 * for gpt-4.1-nano that the upstream rejects, and a body that is not JSON, so names no model.
 */
const sendRequests = async (harness: Harness): Promise<void> => {
  const ids: Array<string> = []

  harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
  const reply = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: question }).withResponse()
  ids.push(requestIdOf(reply.response.headers))

  ids.push(await sendRejectedChat(harness, question))

  const unreadable = await postJson(harness.gateway, "/v1/chat/completions", "this is not JSON")
  await unreadable.arrayBuffer()
  ids.push(requestIdOf(unreadable.headers))

  for (const id of ids) await waitForRecord(harness.gateway, id)
}

describe.each(["sqlite", "postgres"] as const)("forecaster scopes on %s", (database) => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ database, pluginsYaml })
    await sendRequests(harness)
  })

  afterAll(async () => {
    await harness?.close()
  })

  const forecastToday = async (scope: string): Promise<DayBody> => {
    const response = await fetch(`${harness.gateway.url}/v1/fluxen/forecast?period=day&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` }
    })
    expect(response.status, scope).toBe(200)
    const body = (await response.json()) as { scope: string; today: DayBody }
    expect(body.scope).toBe(scope)
    return body.today
  }

  // Today's totals of the usage API with `filters`, as one group, or undefined without a request.
  const usageToday = async (date: string, filters: string): Promise<UsageTotalBody | undefined> => {
    const response = await fetch(`${harness.gateway.url}/v1/fluxen/usage?group_by=day&from=${date}&${filters}`)
    expect(response.status, filters).toBe(200)
    const body = (await response.json()) as { data: ReadonlyArray<UsageTotalBody> }
    return body.data.find((total) => total.group === date)
  }

  it.each([
    ["global", "", 3],
    ["team:(none)", "team=(none)", 3],
    ["key:(none)", "key_id=(none)", 3],
    ["requested_model:gpt-4o-mini", "requested_model=gpt-4o-mini", 1],
    ["requested_model:(none)", "requested_model=(none)", 1],
    ["model:gpt-4o-mini-2024-07-18", "model=gpt-4o-mini-2024-07-18", 1],
    ["model:gpt-4.1-nano", "model=gpt-4.1-nano", 1],
    ["model:(none)", "model=(none)", 1]
  ])("scope %s matches usage filter", async (scope, filters, requests) => {
    const today = await forecastToday(scope)
    const usage = await usageToday(today.date, filters)

    expect(today.requests).toBe(requests)
    expect(usage?.requests).toBe(requests)
    expect(today.cost_usd).toBeCloseTo(usage?.costUsd ?? Number.NaN, 12)
  })

  it("model scope also matches aliases", async () => {
    // The forecaster's model scope matches the name the client sent, but the usage API's model
    // filter compares the upstream model, so only its requested_model filter selects the alias.
    const today = await forecastToday("model:gpt-4o-mini")
    const byModel = await usageToday(today.date, "model=gpt-4o-mini")
    const byRequestedModel = await usageToday(today.date, "requested_model=gpt-4o-mini")

    expect(today.requests).toBe(1)
    expect(today.cost_usd).toBeGreaterThan(0)
    expect(byModel).toBeUndefined()
    expect(byRequestedModel?.requests).toBe(1)
    expect(today.cost_usd).toBeCloseTo(byRequestedModel?.costUsd ?? Number.NaN, 12)
  })

  it("team scope without usage is empty", async () => {
    const today = await forecastToday("team:search")

    expect(today.requests).toBe(0)
    expect(await usageToday(today.date, "team=search")).toBeUndefined()
  })
})
