/**
 * Fluxen's request id on the Anthropic-shaped route, read through the
 * Anthropic SDK: the `request-id` header on messages, streams and errors,
 * and `request_id` in error bodies, including those of the control router.
 */
import Anthropic from "@anthropic-ai/sdk"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeAnthropicClient, startHarness, type Harness } from "./harness.js"

const providersYaml = (upstreamUrl: string) => `  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: sk-ant-test-upstream-key
`

const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
`

const question = [{ role: "user" as const, content: "Hello, how are you?" }]

// The test gateway imports plugins by file path; tsc compiles the plugin into test/dist.
const failingRoutePlugin = fileURLToPath(new URL("../../dist/support/failingRoutePlugin.js", import.meta.url))

let harness: Harness
let client: Anthropic

beforeAll(async () => {
  harness = await startHarness({ providersYaml, modelsYaml, pluginsYaml: `plugins:\n  - use: ${JSON.stringify(failingRoutePlugin)}\n` })
  client = makeAnthropicClient(harness.gateway)
})

afterAll(async () => {
  await harness?.close()
})

/** Awaits a call that must fail with an API error, and returns it. */
const apiErrorOf = async (call: Promise<unknown>): Promise<Anthropic.APIError> => {
  const error = await call.then(
    () => undefined,
    (failure: unknown) => failure
  )
  if (!(error instanceof Anthropic.APIError)) throw new Error(`Expected an Anthropic APIError, got ${String(error)}`)
  return error
}

/** Returns the `request_id` of an Anthropic error body. */
const bodyRequestId = (error: Anthropic.APIError): unknown => (error.error as { request_id?: unknown } | undefined)?.request_id

describe("messages request id", () => {
  it("message exposes the request id", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text.json" })

    const { data: message, response } = await client.messages
      .create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: question })
      .withResponse()

    const fluxenId = response.headers.get("x-fluxen-request-id")
    expect(fluxenId).not.toBeNull()
    expect(message._request_id).toBe(fluxenId)
  })

  it("stream exposes the request id", async () => {
    harness.upstream.enqueue({ fixture: "anthropic/messages/text-stream.chunks.txt" })

    const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 64, messages: question })
    await stream.finalMessage()

    const fluxenId = stream.response?.headers.get("x-fluxen-request-id")
    expect(fluxenId).toEqual(expect.any(String))
    expect(stream.request_id).toBe(fluxenId)
  })

  it("error exposes the request id", async () => {
    const error = await apiErrorOf(client.messages.create({ model: "no-such-model", max_tokens: 16, messages: question }))

    const fluxenId = error.headers?.get("x-fluxen-request-id")
    expect(error.status).toBe(404)
    expect(fluxenId).toEqual(expect.any(String))
    expect(error.requestID).toBe(fluxenId)
    expect(bodyRequestId(error)).toBe(fluxenId)
  })

  it("unknown route exposes the request id", async () => {
    // No method serves this path, so it is a 404; the list of batches would be a 405 beside the POST route.
    const error = await apiErrorOf(client.messages.batches.retrieve("msgbatch_unknown"))

    expect(error).toBeInstanceOf(Anthropic.NotFoundError)
    expect(error.requestID).toEqual(expect.any(String))
    expect(bodyRequestId(error)).toBe(error.requestID)
  })
})

describe("messages control route failure", () => {
  it("answers 500 in Anthropic's shape", async () => {
    const error = await apiErrorOf(
      client.messages.batches.create({ requests: [{ custom_id: "one", params: { model: "claude-sonnet-4-5", max_tokens: 16, messages: question } }] })
    )

    expect(error).toBeInstanceOf(Anthropic.InternalServerError)
    expect(error.status).toBe(500)
    expect(error.type).toBe("api_error")
    expect(error.apiMessage).toContain(`request id ${error.requestID}`)
    expect(error.error).toEqual({ type: "error", error: { type: "api_error", message: error.apiMessage }, request_id: error.requestID })
  })
})
