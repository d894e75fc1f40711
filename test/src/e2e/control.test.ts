/**
 * The routes around the proxy: the model list in OpenAI's list shape, which
 * the OpenAI SDK must read, and the health and readiness probes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, startHarness, type Harness } from "./harness.js"

/** The public model names of the test configuration, in configuration order. */
const configuredModels = [
  "gpt-4o-mini",
  "gpt-4.1-nano",
  "gpt-5-nano",
  "text-embedding-3-small",
  "gpt-3.5-turbo-instruct",
  "gpt-4.1",
  "team-default"
]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    pluginsYaml: NO_PLUGINS,
    modelsYaml: `  team-default:
    provider: openai
    model: gpt-4o-mini-2024-07-18
`
  })
})

afterAll(async () => {
  await harness?.close()
})

describe("GET /v1/models", () => {
  it("lists the configured models in OpenAI's list shape", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models`)
    const body = (await response.json()) as { object: string; data: Array<Record<string, unknown>> }

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(Object.keys(body).sort()).toEqual(["data", "object"])
    expect(body.object).toBe("list")
    expect(body.data.map((model) => model.id)).toEqual(configuredModels)
    for (const model of body.data) {
      expect(model).toEqual({ id: model.id, object: "model", created: 0, owned_by: "openai" })
    }
  })

  it("asks no upstream", async () => {
    const before = harness.upstream.requests.length

    await (await fetch(`${harness.gateway.url}/v1/models`)).arrayBuffer()

    expect(harness.upstream.requests).toHaveLength(before)
  })

  it("is read by the OpenAI client", async () => {
    const ids: Array<string> = []
    for await (const model of harness.client.models.list()) ids.push(model.id)

    expect(ids).toEqual(configuredModels)
  })
})

describe("probes", () => {
  it("answers /healthz with 200", async () => {
    const response = await fetch(`${harness.gateway.url}/healthz`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: "ok" })
  })

  it("answers /readyz with 200", async () => {
    const response = await fetch(`${harness.gateway.url}/readyz`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: "ready" })
  })

  it("answers /readyz with 200 on PostgreSQL", async () => {
    const postgres = await startHarness({ pluginsYaml: NO_PLUGINS, database: "postgres" })
    try {
      const response = await fetch(`${postgres.gateway.url}/readyz`)

      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ status: "ready" })
    } finally {
      await postgres.close()
    }
  })
})
