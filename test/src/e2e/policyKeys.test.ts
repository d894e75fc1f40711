/**
 * Virtual keys through a running gateway: the admin API over HTTP, a created
 * key used by the OpenAI SDK, model allow-lists, revocation and the
 * rate limit headers.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readOpenAIError, startHarness, type Harness } from "./harness.js"
import { adminRequest, chatReply, newFluxenKey, policyPluginsYaml, postChat } from "./policyHarness.js"

const MASTER = "e2e-master-key-0123456789"
const MODEL = "gpt-4.1-nano"
const staticKey = newFluxenKey()
const question = [{ role: "user" as const, content: "Say hi" }]

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    env: { FX_MASTER: MASTER, FX_STATIC: staticKey },
    pluginsYaml: policyPluginsYaml({
      masterKey: "${FX_MASTER}",
      keys: [{ key: "${FX_STATIC}", name: "static-app", models: ["gpt-4o-mini"], limits: { requestsPerMinute: 5 } }]
    })
  })
})

afterAll(async () => {
  await harness?.close()
})

const createKey = async (body: Record<string, unknown>) => {
  const response = await adminRequest(harness.gateway, "POST", "/keys", MASTER, body)
  expect(response.status).toBe(201)
  return (await response.json()) as { id: string; key: string; name: string }
}

describe("admin API over HTTP", () => {
  it("rejects requests without the master key", async () => {
    for (const master of [undefined, "wrong-master-key-0123456789", staticKey]) {
      const response = await adminRequest(harness.gateway, "GET", "/keys", master)
      expect(response.status).toBe(401)
      const body = await readOpenAIError(response)
      expect(body.error.code).toBe("invalid_api_key")
      if (master !== undefined) expect(body.error.message).not.toContain(master)
    }
  })

  it("shows a created key once", async () => {
    const created = await createKey({ name: "shown-once", metadata: { owner: "e2e" } })

    const list = await (await adminRequest(harness.gateway, "GET", "/keys", MASTER)).text()
    const one = await (await adminRequest(harness.gateway, "GET", `/keys/${created.id}`, MASTER)).text()

    expect(created.key).toMatch(/^fx-[A-Za-z0-9_-]{43}$/)
    expect(list).toContain(created.id)
    expect(list).not.toContain(created.key)
    expect(list).not.toContain(staticKey)
    expect(one).not.toContain(created.key)
  })

  it("returns 400 naming the invalid field", async () => {
    const response = await adminRequest(harness.gateway, "POST", "/keys", MASTER, { name: "x", budgets: [{ period: "day", limit_usd: "ten" }] })

    expect(response.status).toBe(400)
    const body = await readOpenAIError(response)
    expect(body.error.param).toBe("budgets[0].limit_usd")
    expect(body.error.code).toBe("invalid_value")
  })
})

describe("keys on proxied requests", () => {
  it("accepts a created key until it is revoked", async () => {
    const created = await createKey({ name: "revocable", models: [MODEL] })
    harness.upstream.enqueue({ body: chatReply(MODEL, 5, 5) })
    const client = new OpenAI({ baseURL: harness.gateway.baseURL, apiKey: created.key, maxRetries: 0 })

    const completion = await client.chat.completions.create({ model: MODEL, messages: question })
    const revoked = await adminRequest(harness.gateway, "DELETE", `/keys/${created.id}`, MASTER)
    const after = await postChat(harness.gateway, created.key, { model: MODEL, messages: question })

    expect(completion.choices[0]?.message.content).toBe("Hi there.")
    expect(revoked.status).toBe(200)
    expect(after.status).toBe(401)
    const body = await readOpenAIError(after)
    expect(body.error.message).toBe("The API key has been revoked.")
    expect(body.error.message).not.toContain(created.key)
  })

  it("records the key id, team and metadata in usage", async () => {
    const created = await createKey({ name: "recorded", team: "research", metadata: { app: "notebook" } })
    harness.upstream.enqueue({ body: chatReply(MODEL, 5, 5) })

    const response = await postChat(harness.gateway, created.key, { model: MODEL, messages: question })
    await response.arrayBuffer()
    const requestId = response.headers.get("x-fluxen-request-id")
    let record
    for (let attempt = 0; attempt < 100 && record === undefined; attempt++) {
      record = (await harness.gateway.usageRecords()).find((candidate) => candidate.requestId === requestId)
      if (record === undefined) await new Promise((resolve) => setTimeout(resolve, 25))
    }

    expect(response.status).toBe(200)
    expect(record?.keyId).toBe(created.id)
    expect(record?.team).toBe("research")
    expect(record?.metadata).toEqual({ app: "notebook" })
  })

  it("rejects a request without a key in OpenAI's shape", async () => {
    const response = await postChat(harness.gateway, undefined, { model: MODEL, messages: question })

    expect(response.status).toBe(401)
    const body = await readOpenAIError(response)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("invalid_api_key")
  })

  it("rejects an unknown key without repeating it", async () => {
    const unknown = newFluxenKey()

    const response = await postChat(harness.gateway, unknown, { model: MODEL, messages: question })

    expect(response.status).toBe(401)
    const text = await response.text()
    expect(text).not.toContain(unknown)
    expect(harness.upstream.requests.every((request) => !request.body.includes(unknown))).toBe(true)
  })

  it("returns 403 naming a disallowed model", async () => {
    const response = await postChat(harness.gateway, staticKey, { model: MODEL, messages: question })

    expect(response.status).toBe(403)
    const body = await readOpenAIError(response)
    expect(body.error.type).toBe("permission_error")
    expect(body.error.message).toBe(`The API key 'static-app' is not allowed to use the model '${MODEL}'.`)
  })

  it("sends rate limit headers with x-api-key", async () => {
    harness.upstream.enqueue({ body: chatReply("gpt-4o-mini", 5, 5) })

    const response = await postChat(harness.gateway, staticKey, { model: "gpt-4o-mini", messages: question }, "x-api-key")
    await response.arrayBuffer()

    expect(response.status).toBe(200)
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("5")
    expect(Number(response.headers.get("x-ratelimit-remaining-requests"))).toBeLessThanOrEqual(4)
    expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(\.\d+)?(ms|s)$/)
  })
})
