/**
 * Policy refusals in the usage totals: `GET /v1/fluxen/usage` and the
 * dashboard data count the 401, 403 and 429 responses of the policy plugin
 * as `refused`, a part of `errors`, and leave an upstream failure out of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { requestIdOf, startHarness, waitForRecord, type Harness } from "./harness.js"
import { chatReply, newFluxenKey, policyPluginsYaml, postChat } from "./policyHarness.js"

const ADMIN_KEY = "usage-refused-admin-key-0123"
const MODEL = "gpt-4o-mini"
const narrowKey = newFluxenKey()
const limitedKey = newFluxenKey()
const openKey = newFluxenKey()
const question = [{ role: "user" as const, content: "Say hi" }]

interface Totals {
  readonly requests: number
  readonly errors: number
  readonly refused: number
}

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    env: { FX_NARROW: narrowKey, FX_LIMITED: limitedKey, FX_OPEN: openKey },
    extraYaml: `admin:\n  key: "${ADMIN_KEY}"\n`,
    pluginsYaml: policyPluginsYaml({
      keys: [
        { key: "${FX_NARROW}", name: "narrow", models: ["gpt-4.1"] },
        { key: "${FX_LIMITED}", name: "limited", limits: { requestsPerMinute: 1 } },
        { key: "${FX_OPEN}", name: "open" }
      ]
    })
  })

  // Sends the requests one after another and waits for each record, so the totals below see them all.
  const send = async (key: string | undefined, expectedStatus: number) => {
    const response = await postChat(harness.gateway, key, { model: MODEL, messages: question })
    await response.arrayBuffer()
    expect(response.status).toBe(expectedStatus)
    await waitForRecord(harness.gateway, requestIdOf(response.headers))
  }

  await send(undefined, 401)
  await send(narrowKey, 403)
  harness.upstream.enqueue({ body: chatReply(MODEL, 5, 5) })
  await send(limitedKey, 200)
  await send(limitedKey, 429)
  harness.upstream.enqueue({
    status: 400,
    body: JSON.stringify({ error: { message: "Invalid 'messages'.", type: "invalid_request_error", code: null, param: "messages" } })
  })
  await send(openKey, 400)
})

afterAll(async () => {
  await harness?.close()
})

const get = (path: string) => fetch(`${harness.gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })

describe("refused requests in the usage totals", () => {
  it("usage API counts refusals apart", async () => {
    const response = await get("/v1/fluxen/usage?group_by=endpoint")
    const body = (await response.json()) as { readonly data: ReadonlyArray<Totals & { readonly group: string }> }

    expect(response.status).toBe(200)
    expect(body.data).toHaveLength(1)
    expect(body.data[0]!.requests).toBe(5)
    expect(body.data[0]!.errors).toBe(4)
    expect(body.data[0]!.refused).toBe(3)
  })

  it("dashboard data counts refusals apart", async () => {
    const response = await get("/v1/fluxen/dashboard-data?days=1")
    const body = (await response.json()) as { readonly totals: Totals; readonly days: ReadonlyArray<Totals> }

    expect(response.status).toBe(200)
    expect(body.totals.requests).toBe(5)
    expect(body.totals.errors).toBe(4)
    expect(body.totals.refused).toBe(3)
    expect(body.days.at(-1)!.refused).toBe(3)
  })
})
