/**
 * Requests with a method that their route does not accept: every control
 * route, the plugins' routes and the proxied routes respond with 405 Method
 * Not Allowed, an `Allow` header and an error in the route's API shape. A path
 * that no method serves still gets 404.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf, makeAnthropicClient, readOpenAIError, startHarness, type Harness } from "./harness.js"
import { policyPluginsYaml } from "./policyHarness.js"

const ADMIN_KEY = "admin-key-of-the-wrong-method-tests"
const MASTER_KEY = "master-key-of-the-wrong-method-tests"

let harness: Harness

beforeAll(async () => {
  harness = await startHarness({
    pluginsYaml: `${policyPluginsYaml({ masterKey: MASTER_KEY })}  - use: "@fluxen/forecaster"
    config:
      adminKey: "${ADMIN_KEY}"
`,
    extraYaml: `admin: { key: "${ADMIN_KEY}" }\n`
  })
})

afterAll(async () => {
  await harness?.close()
})

const send = (method: string, path: string) =>
  fetch(`${harness.gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(method === "GET" || method === "HEAD" ? {} : { "content-type": "application/json" }) },
    ...(method === "GET" || method === "HEAD" ? {} : { body: "{}" })
  })

const getOnly = "GET, HEAD"

/** Each case: a request with a wrong method, and the `Allow` header its path has. */
const openAIShapedCases: ReadonlyArray<readonly [method: string, path: string, allow: string]> = [
  ["POST", "/v1/fluxen/usage", getOnly],
  ["POST", "/v1/fluxen/usage?group_by=model", getOnly],
  ["POST", "/metrics", getOnly],
  ["DELETE", "/healthz", getOnly],
  ["POST", "/readyz", getOnly],
  ["POST", "/dashboard", getOnly],
  ["PUT", "/v1/fluxen/dashboard-data", getOnly],
  ["POST", "/dashboard/assets/main.js", getOnly],
  ["POST", "/v1/models", getOnly],
  ["DELETE", "/v1/models/gpt-4o-mini", getOnly],
  ["POST", "/v1/fluxen/forecast", getOnly],
  ["PUT", "/v1/fluxen/admin/keys", "GET, HEAD, POST"],
  ["PUT", "/v1/fluxen/admin/keys/key_123", "GET, HEAD, PATCH, DELETE"],
  ["GET", "/v1/chat/completions", "POST"],
  ["GET", "/v1/completions", "POST"],
  ["PUT", "/v1/embeddings", "POST"],
  ["DELETE", "/v1/responses", "POST"],
  ["OPTIONS", "/v1/chat/completions", "POST"]
]

describe("wrong method", () => {
  it.each(openAIShapedCases)("%s %s: 405", async (method, path, allow) => {
    const response = await send(method, path)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe(allow)
    expect(response.headers.get("x-request-id")).toMatch(/\S/)
    expect(body.error.type).toBe("invalid_request_error")
    expect(body.error.code).toBe("method_not_allowed")
    expect(body.error.param).toBeNull()
    expect(body.error.message).toContain(`Method ${method} is not allowed on ${path.split("?")[0]}.`)
  })

  it.each(["/v1/messages", "/v1/messages/count_tokens"])("GET %s: Anthropic shape", async (path) => {
    const error = await failureOf(makeAnthropicClient(harness.gateway).get(path))

    expect(error).toBeInstanceOf(Anthropic.APIError)
    const apiError = error as InstanceType<typeof Anthropic.APIError>
    expect(apiError.status).toBe(405)
    expect(apiError.headers?.get("allow")).toBe("POST")
    expect(apiError.error).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: `Method GET is not allowed on ${path}. Use POST.` },
      request_id: apiError.requestID
    })
  })

  it("OpenAI client reads the 405", async () => {
    const error = await failureOf(harness.client.post("/fluxen/usage"))

    expect(error).toBeInstanceOf(OpenAI.APIError)
    const apiError = error as InstanceType<typeof OpenAI.APIError>
    expect(apiError.status).toBe(405)
    expect(apiError.code).toBe("method_not_allowed")
    expect(apiError.message).toContain("Method POST is not allowed on /v1/fluxen/usage. Use GET or HEAD.")
    expect(apiError.requestID).toMatch(/\S/)
  })

  it("HEAD on a proxied route: 405", async () => {
    const response = await send("HEAD", "/v1/chat/completions")

    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
  })

  it("right method still served", async () => {
    const health = await send("HEAD", "/healthz")
    const usage = await send("GET", "/v1/fluxen/usage")

    expect(health.status).toBe(200)
    expect(usage.status).toBe(200)
  })

  it.each([
    ["GET", "/v1/no-such-route"],
    ["POST", "/v1/audio/speech"],
    ["POST", "/v1/chat/completions/extra"]
  ])("%s %s: still 404", async (method, path) => {
    const response = await send(method, path)
    const body = await readOpenAIError(response)

    expect(response.status).toBe(404)
    expect(response.headers.get("allow")).toBeNull()
    expect(body.error.code).toBe("not_found")
  })
})
