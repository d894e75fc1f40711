/**
 * `GET /v1/models` for Anthropic clients: a request with `anthropic-version`
 * gets the configured models in Anthropic's paged list shape, read here by
 * the official Anthropic SDK and by fetch.
 */
import Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLIENT_API_KEY, NO_PLUGINS, startHarness, type Harness } from "./harness.js"

const ANTHROPIC_VERSION = "2023-06-01"

/** RFC 3339 date-time in UTC, as Anthropic writes `created_at`. */
const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

interface AnthropicModelPage {
  readonly data: ReadonlyArray<Record<string, unknown>>
  readonly has_more: boolean
  readonly first_id: string | null
  readonly last_id: string | null
}

let harness: Harness
let client: Anthropic
/** The model ids in the OpenAI-shaped list, which the Anthropic-shaped one must repeat. */
let openAIIds: ReadonlyArray<string>

/** Gets `/v1/models` as an Anthropic client does, with the query string `query`. */
const getAnthropicModels = (query = "") =>
  fetch(`${harness.gateway.url}/v1/models${query}`, { headers: { "anthropic-version": ANTHROPIC_VERSION, "x-api-key": CLIENT_API_KEY } })

beforeAll(async () => {
  harness = await startHarness({ pluginsYaml: NO_PLUGINS })
  client = new Anthropic({ baseURL: harness.gateway.url, apiKey: CLIENT_API_KEY, maxRetries: 0 })

  const ids: Array<string> = []
  for await (const model of harness.client.models.list()) ids.push(model.id)
  openAIIds = ids
})

afterAll(async () => {
  await harness?.close()
})

describe("GET /v1/models for Anthropic clients", () => {
  it("configuration lists enough models", () => {
    // Paging by two needs at least three pages to cover a middle page.
    expect(openAIIds.length).toBeGreaterThanOrEqual(5)
  })

  it("SDK lists the same models", async () => {
    const ids: Array<string> = []
    for await (const model of client.models.list()) ids.push(model.id)

    expect(ids).toEqual(openAIIds)
  })

  it("SDK follows pages of two", async () => {
    const firstPage = await client.models.list({ limit: 2 })
    const ids: Array<string> = []
    for await (const model of client.models.list({ limit: 2 })) ids.push(model.id)

    expect(firstPage.data.map((model) => model.id)).toEqual(openAIIds.slice(0, 2))
    expect(firstPage.has_more).toBe(true)
    expect(ids).toEqual(openAIIds)
  })

  it("body has Anthropic's keys", async () => {
    const response = await getAnthropicModels()
    const body = (await response.json()) as AnthropicModelPage

    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(Object.keys(body).sort()).toEqual(["data", "first_id", "has_more", "last_id"])
    expect(body.has_more).toBe(false)
    expect(body.first_id).toBe(openAIIds[0])
    expect(body.last_id).toBe(openAIIds.at(-1))
  })

  it("models have Anthropic's fields", async () => {
    const body = (await (await getAnthropicModels()).json()) as AnthropicModelPage

    for (const model of body.data) {
      expect(Object.keys(model).sort(), String(model.id)).toEqual(["created_at", "display_name", "id", "type"])
      expect(model.type, String(model.id)).toBe("model")
      expect(model.display_name, String(model.id)).toBe(model.id)
      expect(model.created_at, String(model.id)).toMatch(rfc3339Utc)
    }
  })

  it("after_id starts after the cursor", async () => {
    const body = (await (await getAnthropicModels(`?limit=2&after_id=${openAIIds[1]}`)).json()) as AnthropicModelPage

    expect(body.data.map((model) => model.id)).toEqual(openAIIds.slice(2, 4))
    expect(body.first_id).toBe(openAIIds[2])
    expect(body.last_id).toBe(openAIIds[3])
    expect(body.has_more).toBe(true)
  })

  it("after_id reaches the last page", async () => {
    const body = (await (await getAnthropicModels(`?limit=2&after_id=${openAIIds.at(-2)}`)).json()) as AnthropicModelPage

    expect(body.data.map((model) => model.id)).toEqual(openAIIds.slice(-1))
    expect(body.has_more).toBe(false)
  })

  it("before_id ends before the cursor", async () => {
    const body = (await (await getAnthropicModels(`?limit=2&before_id=${openAIIds[4]}`)).json()) as AnthropicModelPage

    expect(body.data.map((model) => model.id)).toEqual(openAIIds.slice(2, 4))
    expect(body.has_more).toBe(true)
  })

  it("before_id reaches the first page", async () => {
    const body = (await (await getAnthropicModels(`?limit=2&before_id=${openAIIds[1]}`)).json()) as AnthropicModelPage

    expect(body.data.map((model) => model.id)).toEqual(openAIIds.slice(0, 1))
    expect(body.has_more).toBe(false)
  })

  it("after the last model: empty page", async () => {
    const body = (await (await getAnthropicModels(`?after_id=${openAIIds.at(-1)}`)).json()) as AnthropicModelPage

    expect(body.data).toEqual([])
    expect(body.first_id).toBeNull()
    expect(body.last_id).toBeNull()
    expect(body.has_more).toBe(false)
  })

  it.each([
    { name: "zero limit", query: "?limit=0", message: "'limit'" },
    { name: "limit above 1000", query: "?limit=1001", message: "'limit'" },
    { name: "fractional limit", query: "?limit=2.5", message: "'limit'" },
    { name: "unknown after_id", query: "?after_id=no-such-model", message: "no-such-model" },
    { name: "unknown before_id", query: "?before_id=no-such-model", message: "no-such-model" },
    { name: "both cursors", query: "?after_id=a&before_id=b", message: "not both" }
  ])("$name: 400 in Anthropic's shape", async ({ query, message }) => {
    const response = await getAnthropicModels(query)
    const body = (await response.json()) as { type: string; error: { type: string; message: string }; request_id: string }

    expect(response.status).toBe(400)
    expect(Object.keys(body).sort()).toEqual(["error", "request_id", "type"])
    expect(body.request_id).toBe(response.headers.get("x-fluxen-request-id"))
    expect(response.headers.get("request-id")).toBe(body.request_id)
    expect(body.type).toBe("error")
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.message).toContain(message)
  })

  it("SDK raises BadRequestError on invalid limit", async () => {
    await expect(client.models.list({ limit: 0 })).rejects.toBeInstanceOf(Anthropic.BadRequestError)
  })

  it("no anthropic-version: OpenAI's shape", async () => {
    const body = (await (await fetch(`${harness.gateway.url}/v1/models`)).json()) as Record<string, unknown>

    expect(Object.keys(body).sort()).toEqual(["data", "object"])
    expect(body.object).toBe("list")
  })
})

describe("GET /v1/models/{model} for Anthropic clients", () => {
  it("SDK retrieves a model", async () => {
    const model = await client.models.retrieve("gpt-4o-mini")

    expect(model).toEqual({ type: "model", id: "gpt-4o-mini", display_name: "gpt-4o-mini", created_at: new Date(0).toISOString() })
  })

  it("SDK raises NotFoundError", async () => {
    await expect(client.models.retrieve("claude-unknown")).rejects.toBeInstanceOf(Anthropic.NotFoundError)
  })

  it("unknown model: 404 in Anthropic's shape", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models/claude-unknown`, { headers: { "anthropic-version": ANTHROPIC_VERSION } })
    const body = (await response.json()) as { type: string; error: { type: string; message: string } }

    expect(response.status).toBe(404)
    expect(body.type).toBe("error")
    expect(body.error.type).toBe("not_found_error")
    expect(body.error.message).toContain("claude-unknown")
  })
})
