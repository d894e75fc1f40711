/**
 * `GET /metrics` behind `admin.key` when `admin.protectMetrics` is true, and
 * open to every client when it is left at its default.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, readOpenAIError, startHarness, type Harness } from "./harness.js"

const ADMIN_KEY = "metrics-admin-key-0123456789"

const adminYaml = (protectMetrics?: boolean) =>
  `admin:\n  key: "${ADMIN_KEY}"\n` + (protectMetrics === undefined ? "" : `  protectMetrics: ${protectMetrics}\n`)

/** Scrapes the metrics with the given `Authorization` header, or none. */
const getMetrics = (harness: Harness, authorization?: string) =>
  fetch(`${harness.gateway.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } })

describe("metrics with protectMetrics", () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await startHarness({ pluginsYaml: NO_PLUGINS, extraYaml: adminYaml(true) })
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("bearer key: 200", async () => {
    const response = await getMetrics(harness, `Bearer ${ADMIN_KEY}`)
    const text = await response.text()

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    expect(text).toContain("# TYPE fluxen_inflight_requests gauge")
  })

  it("key in query: 200", async () => {
    const response = await fetch(`${harness.gateway.url}/metrics?key=${ADMIN_KEY}`)
    await response.arrayBuffer()

    expect(response.status).toBe(200)
  })

  it("missing key: 401", async () => {
    const response = await getMetrics(harness)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toBe("Bearer")
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(body.error.code).toBe("invalid_admin_key")
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.message).toContain("Authorization: Bearer <admin.key>")
  })

  it("wrong key: 401, not echoed", async () => {
    const response = await getMetrics(harness, "Bearer not-the-admin-key-0000")
    const body = await readOpenAIError(response)

    expect(response.status).toBe(401)
    expect(body.error.code).toBe("invalid_admin_key")
    expect(body.error.message).toBe("The admin key is invalid.")
    expect(JSON.stringify(body)).not.toContain("not-the-admin-key")
  })

  it("key of other length: 401", async () => {
    const response = await getMetrics(harness, `Bearer ${ADMIN_KEY}x`)
    await response.arrayBuffer()

    expect(response.status).toBe(401)
  })
})

describe("metrics without protectMetrics", () => {
  for (const [name, protectMetrics] of [
    ["default", undefined],
    ["false", false]
  ] as const) {
    it(`protectMetrics ${name}: open`, async () => {
      const harness = await startHarness({ pluginsYaml: NO_PLUGINS, extraYaml: adminYaml(protectMetrics) })
      try {
        const response = await getMetrics(harness)
        await response.arrayBuffer()

        expect(response.status).toBe(200)
      } finally {
        await harness.close()
      }
    })
  }
})
