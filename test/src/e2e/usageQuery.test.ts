/**
 * The query parameters of `GET /v1/fluxen/usage`: invalid values get a 400 in
 * OpenAI's error shape naming the parameter, and valid ISO 8601 values are
 * read as UTC.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, postJson, readOpenAIError, requestIdOf, startHarness, waitForRecord, type Harness } from "./harness.js"

interface UsageBody {
  readonly from: string
  readonly to: string
  readonly group_by: string
  readonly data: ReadonlyArray<{ readonly group: string; readonly requests: number }>
}

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
})

afterAll(async () => {
  await harness?.close()
})

const getUsage = (query: string) => fetch(`${harness.gateway.url}/v1/fluxen/usage?${query}`)

describe("usage query parameters", () => {
  it.each([
    ["from=yesterday", "from"],
    ["to=garbage", "to"],
    ["from=2026-13-45", "from"],
    ["from=2026-02-30", "from"],
    ["from=1", "from"],
    ["to=2026-12-01T25:00:00Z", "to"],
    ["from=", "from"],
    ["group_by=bogus", "group_by"],
    ["model=", "model"],
    ["requested_model=", "requested_model"],
    ["key_id=", "key_id"],
    ["team=fin%00ance", "team"],
    ["from=2026-12-06&to=2026-12-01", "from"]
  ])("rejects %s with 400", async (query, param) => {
    const response = await getUsage(query)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(400)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("invalid_value")
    expect(body.error.param).toBe(param)
    expect(body.error.message).toContain(`'${param}'`)
  })

  it("names ISO 8601 in the message", async () => {
    const body = await readOpenAIError(await getUsage("from=1"))

    expect(body.error.message).toContain("ISO 8601")
    expect(body.error.message).toContain("2026-12-01T10:00:00Z")
    expect(body.error.message).toContain('got "1"')
  })

  it.each([
    ["from=2026-12-01&to=2026-12-02", "2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"],
    ["from=2026-12-01T10:00:00Z&to=2026-12-01T10:30:00.250Z", "2026-12-01T10:00:00.000Z", "2026-12-01T10:30:00.250Z"],
    ["from=2026-12-01T10:00:00%2B02:00&to=2026-12-01T10:00", "2026-12-01T08:00:00.000Z", "2026-12-01T10:00:00.000Z"],
    ["from=2026-12-01T10:00:00+02:00&to=2026-12-01T10:00", "2026-12-01T08:00:00.000Z", "2026-12-01T10:00:00.000Z"],
    ["from=2024-02-29&to=2024-03-01", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
  ])("accepts %s", async (query, from, to) => {
    const response = await getUsage(query)
    const body = (await response.json()) as UsageBody

    expect(response.status).toBe(200)
    expect(body.from).toBe(from)
    expect(body.to).toBe(to)
  })
})

describe("usage totals by model", () => {
  it("groups unreadable requests under (none)", async () => {
    const response = await postJson(harness.gateway, "/v1/chat/completions", "this is not JSON")
    expect(response.status).toBe(400)
    await waitForRecord(harness.gateway, requestIdOf(response.headers))

    const usage = await getUsage("group_by=model")
    const body = (await usage.json()) as UsageBody

    expect(usage.status).toBe(200)
    expect(body.data.map((total) => total.group)).toEqual(["(none)"])
    expect(body.data[0]!.requests).toBe(1)
  })
})
