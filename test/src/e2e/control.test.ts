/**
 * The routes around the proxy: the model list and one model in OpenAI's
 * shapes, which the OpenAI SDK must read, and the health and readiness probes.
 */
import OpenAI from "openai"
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

describe("GET /v1/models/{model}", () => {
  it("OpenAI client retrieves a model", async () => {
    const model = await harness.client.models.retrieve("team-default")

    expect(model).toEqual({ id: "team-default", object: "model", created: 0, owned_by: "openai" })
  })

  it("retrieves a provider/model name", async () => {
    // The SDK percent-encodes the slash.
    const model = await harness.client.models.retrieve("openai/gpt-4o-mini-2024-07-18")

    expect(model.id).toBe("openai/gpt-4o-mini-2024-07-18")
  })

  it("accepts an unencoded slash", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models/openai/gpt-4o-mini-2024-07-18`)

    expect(((await response.json()) as { id: string }).id).toBe("openai/gpt-4o-mini-2024-07-18")
  })

  it("unknown model: NotFoundError", async () => {
    const error = await harness.client.models.retrieve("gpt-unknown").catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it("unknown model: 404 naming it", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models/gpt-unknown`)
    const body = (await response.json()) as { error: { message: string; code: string; param: string } }

    expect(response.status).toBe(404)
    expect(body.error.code).toBe("model_not_found")
    expect(body.error.param).toBe("model")
    expect(body.error.message).toContain("gpt-unknown")
  })

  it("malformed escape: 404", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models/%E0%A4%A`)

    expect(response.status).toBe(404)
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
