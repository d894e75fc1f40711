/**
 * `GET /v1/models` behind the policy plugin, read by the official OpenAI and
 * Anthropic SDKs: the key is checked as on chat requests, and a key with an
 * allow-list gets only the models it may use.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readOpenAIError, startHarness, type Harness } from "./harness.js"
import { adminRequest, newFluxenKey, policyPluginsYaml } from "./policyHarness.js"

const MASTER = "e2e-master-key-for-model-lists"
const restrictedKey = newFluxenKey()
const unrestrictedKey = newFluxenKey()

/** The models of the test gateway's configuration, in configuration order. */
const CONFIGURED = ["gpt-4o-mini", "gpt-4.1-nano", "gpt-5-nano", "text-embedding-3-small", "gpt-3.5-turbo-instruct", "gpt-4.1"]
/** What `restricted-app` may use: `gpt-4o*` matches by prefix, `gpt-4.1` only exactly. */
const RESTRICTED = ["gpt-4o-mini", "gpt-4.1"]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    env: { FX_MASTER: MASTER, FX_RESTRICTED: restrictedKey, FX_UNRESTRICTED: unrestrictedKey },
    pluginsYaml: policyPluginsYaml({
      masterKey: "${FX_MASTER}",
      keys: [
        { key: "${FX_RESTRICTED}", name: "restricted-app", models: ["gpt-4o*", "gpt-4.1"] },
        { key: "${FX_UNRESTRICTED}", name: "unrestricted-app" }
      ]
    })
  })
})

afterAll(async () => {
  await harness?.close()
})

const openAIClient = (apiKey: string) => new OpenAI({ baseURL: harness.gateway.baseURL, apiKey, maxRetries: 0 })

const anthropicClient = (apiKey: string) => new Anthropic({ baseURL: harness.gateway.url, apiKey, maxRetries: 0 })

const openAIIds = async (client: OpenAI): Promise<Array<string>> => {
  const ids: Array<string> = []
  for await (const model of client.models.list()) ids.push(model.id)
  return ids
}

const anthropicIds = async (client: Anthropic): Promise<Array<string>> => {
  const ids: Array<string> = []
  for await (const model of client.models.list({ limit: 2 })) ids.push(model.id)
  return ids
}

describe("model list with the OpenAI SDK", () => {
  it("no key: AuthenticationError", async () => {
    // A null default header removes the SDK's `Authorization` header, so no key is sent.
    const client = new OpenAI({ baseURL: harness.gateway.baseURL, apiKey: "unused", defaultHeaders: { Authorization: null }, maxRetries: 0 })

    const error = await client.models.list().catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).message).toContain("Missing API key")
  })

  it("no key: 401 in OpenAI's shape", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models`)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(401)
    expect(body.error.code).toBe("invalid_api_key")
  })

  it("non-Fluxen key: AuthenticationError", async () => {
    await expect(openAIIds(openAIClient("sk-not-a-fluxen-key"))).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it("restricted key: its models", async () => {
    expect(await openAIIds(openAIClient(restrictedKey))).toEqual(RESTRICTED)
  })

  it("unrestricted key: every model", async () => {
    expect(await openAIIds(openAIClient(unrestrictedKey))).toEqual(CONFIGURED)
  })

  it("revoked key: AuthenticationError", async () => {
    const created = await adminRequest(harness.gateway, "POST", "/keys", MASTER, { name: "revoked-later", models: ["gpt-5*"] })
    const { id, key } = (await created.json()) as { id: string; key: string }

    const before = await openAIIds(openAIClient(key))
    const revoked = await adminRequest(harness.gateway, "DELETE", `/keys/${id}`, MASTER)
    const after = await openAIIds(openAIClient(key)).catch((caught: unknown) => caught)

    expect(before).toEqual(["gpt-5-nano"])
    expect(revoked.status).toBe(200)
    expect(after).toBeInstanceOf(OpenAI.AuthenticationError)
  })
})

describe("one model behind the policy plugin", () => {
  it("restricted key: its model", async () => {
    expect((await openAIClient(restrictedKey).models.retrieve("gpt-4.1")).id).toBe("gpt-4.1")
  })

  it("restricted key: other model NotFoundError", async () => {
    await expect(openAIClient(restrictedKey).models.retrieve("gpt-5-nano")).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it("no key: 401", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models/gpt-4.1`)

    expect(response.status).toBe(401)
  })

  it("Anthropic SDK: restricted key's model", async () => {
    expect((await anthropicClient(restrictedKey).models.retrieve("gpt-4o-mini")).id).toBe("gpt-4o-mini")
  })
})

describe("model list with the Anthropic SDK", () => {
  it("no key: AuthenticationError", async () => {
    const client = new Anthropic({
      baseURL: harness.gateway.url,
      apiKey: null,
      authToken: null,
      defaultHeaders: { Authorization: null },
      maxRetries: 0
    })

    const error = await client.models.list().catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(Anthropic.AuthenticationError)
    expect((error as InstanceType<typeof Anthropic.AuthenticationError>).message).toContain("Missing API key")
  })

  it("no key: 401 in Anthropic's shape", async () => {
    const response = await fetch(`${harness.gateway.url}/v1/models`, { headers: { "anthropic-version": "2023-06-01" } })
    const body = (await response.json()) as Record<string, unknown>

    expect(response.status).toBe(401)
    expect(Object.keys(body).sort()).toEqual(["error", "request_id", "type"])
    expect(body.request_id).toBe(response.headers.get("x-fluxen-request-id"))
    expect(body.type).toBe("error")
    expect((body.error as { type: string }).type).toBe("authentication_error")
  })

  it("restricted key: its models, paged", async () => {
    const client = anthropicClient(restrictedKey)

    const firstPage = await client.models.list({ limit: 1 })

    expect(await anthropicIds(client)).toEqual(RESTRICTED)
    expect(firstPage.data.map((model) => model.id)).toEqual(RESTRICTED.slice(0, 1))
    expect(firstPage.has_more).toBe(true)
  })

  it("unrestricted key: every model", async () => {
    expect(await anthropicIds(anthropicClient(unrestrictedKey))).toEqual(CONFIGURED)
  })

  it("cursor outside the key's models: 400", async () => {
    await expect(anthropicClient(restrictedKey).models.list({ after_id: "gpt-5-nano" })).rejects.toBeInstanceOf(Anthropic.BadRequestError)
  })
})
