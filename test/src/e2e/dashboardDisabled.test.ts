/**
 * A gateway whose configuration sets no `admin.key` keeps its dashboard
 * closed, and the 401 names the setting that opens it. The message names no
 * file, because the configuration file may have any name.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, readOpenAIError, startHarness, type Harness } from "./harness.js"

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
})

afterAll(async () => {
  await harness?.close()
})

describe("dashboard without admin.key", () => {
  it.each(["/dashboard", "/v1/fluxen/dashboard-data"])("%s responds with 401", async (path) => {
    const response = await fetch(`${harness.gateway.url}${path}?key=some-admin-key-0123456789`)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(401)
    expect(body.error.code).toBe("invalid_admin_key")
    expect(body.error.message).toContain("does not set admin.key")
    expect(body.error.message).toContain("the configuration file")
    expect(body.error.message).not.toContain("fluxen.yaml")
  })
})
