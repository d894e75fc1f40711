import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, postJson, requestIdOf, startHarness, waitForRecord, type Harness } from "./harness.js"

const ADMIN_KEY = "usage-admin-key-0123456789"

/** Gets the usage totals with the given `Authorization` header, or none. */
const getUsage = (harness: Harness, authorization?: string) =>
  fetch(`${harness.gateway.url}/v1/fluxen/usage?group_by=model`, {
    headers: authorization === undefined ? {} : { authorization }
  })

describe("usage totals with admin.key", () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS, extraYaml: `admin:\n  key: "${ADMIN_KEY}"\n` })
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("key in header: 200", async () => {
    const response = await getUsage(harness, `Bearer ${ADMIN_KEY}`)

    expect(response.status).toBe(200)
    expect(((await response.json()) as { object: string }).object).toBe("fluxen.usage")
  })

  it("key in query: 200", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/fluxen/usage?key=${ADMIN_KEY}`)

    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe("no-store")
  })

  it("key in query is no filter", async () => {
    const request = await postJson(harness.gateway, "/v1/chat/completions", "this is not JSON")
    await waitForRecord(harness.gateway, requestIdOf(request.headers))

    const all = await fetch(`${harness.gateway.url}/v1/fluxen/usage?key=${ADMIN_KEY}&group_by=key`)
    const filtered = await fetch(`${harness.gateway.url}/v1/fluxen/usage?key=${ADMIN_KEY}&group_by=key&key_id=key_nobody`)
    const groups = async (response: Response) => ((await response.json()) as { data: ReadonlyArray<{ group: string }> }).data.map((total) => total.group)

    expect(await groups(all)).toEqual(["(none)"])
    expect(await groups(filtered)).toEqual([])
  })

  it("missing key: 401", async () => {
    const response = await getUsage(harness)
    const body = (await response.json()) as { error: { message: string; code: string } }

    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe("Bearer")
    expect(body.error.code).toBe("invalid_admin_key")
    expect(body.error.message).toContain("Authorization: Bearer <admin.key>")
  })

  it("wrong key: 401, not echoed", async () => {
    const response = await getUsage(harness, "Bearer not-the-admin-key-0000")
    const text = await response.text()

    expect(response.status).toBe(401)
    expect(text).toContain("The admin key is invalid.")
    expect(text).not.toContain("not-the-admin-key")
    expect(text).not.toContain(ADMIN_KEY)
  })
})

describe("usage totals without admin.key", () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS })
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("no admin.key: open", async () => {
    const response = await getUsage(harness)

    expect(response.status).toBe(200)
  })
})
