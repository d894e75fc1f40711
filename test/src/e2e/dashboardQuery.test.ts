/**
 * The `days` parameter of the dashboard page and its data route: values
 * outside 1 to 366 get the same 400 from both, naming the parameter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, readOpenAIError, startHarness, type Harness } from "./harness.js"

const ADMIN_KEY = "dashboard-query-admin-key-0123"

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS, extraYaml: `admin:\n  key: "${ADMIN_KEY}"\n` })
})

afterAll(async () => {
  await harness?.close()
})

const get = (path: string) => fetch(`${harness.gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })

describe("dashboard days parameter", () => {
  it.each([
    ["/v1/fluxen/dashboard-data?days=0", '"0"'],
    ["/v1/fluxen/dashboard-data?days=1.5", '"1.5"'],
    ["/dashboard?days=999", '"999"'],
    ["/dashboard?days=week", '"week"']
  ])("rejects %s with 400", async (path, shown) => {
    const response = await get(path)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(400)
    expect(body.error.code).toBe("invalid_value")
    expect(body.error.param).toBe("days")
    expect(body.error.message).toContain(`from 1 to 366, got ${shown}`)
  })

  it.each(["/dashboard?days=366", "/dashboard", "/v1/fluxen/dashboard-data?days=1"])("accepts %s", async (path) => {
    const response = await get(path)
    await response.arrayBuffer()

    expect(response.status).toBe(200)
  })

  it("checks the key before days", async () => {
    const response = await fetch(`${harness.gateway.url}/dashboard?days=999`)
    await response.arrayBuffer()

    expect(response.status).toBe(401)
  })
})
