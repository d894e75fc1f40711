/**
 * The cache computes its key before the provider call, from the first
 * deployment of the model. A response from a fallback deployment must not be
 * stored under that key, or later requests would get the fallback's response
 * from the cache while the first deployment is healthy.
 */
import type OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { makeClient, openaiPairProvidersYaml } from "./harness.js"

const models = `  cached-pair:
    strategy: ordered
    deployments:
      - provider: primary
        model: gpt-4.1-nano
      - provider: backup
        model: gpt-4.1-nano
`

const unavailable = { status: 503, body: JSON.stringify({ error: { message: "The server is overloaded", type: "server_error", param: null, code: null } }) }
const TEXT_JSON = "openai/chat-completions/text.json"

describe("cache with fallbacks", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let client: OpenAI

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: `plugins:
  - use: "@fluxen/cache"
`,
      providersYaml: openaiPairProvidersYaml(upstream.url),
      modelsYaml: models
    })
    client = makeClient(gateway)
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("leaves fallback answers unstored", async () => {
    const messages = [{ role: "user" as const, content: "Which deployment answered?" }]
    upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: TEXT_JSON })
    await client.chat.completions.create({ model: "cached-pair", messages })
    const afterFallback = upstream.requests.length

    upstream.enqueue({ fixture: TEXT_JSON })
    const repeated = await client.chat.completions.create({ model: "cached-pair", messages }).withResponse()
    expect(repeated.response.headers.get("x-fluxen-cache")).toBe("miss")
    expect(upstream.requests.slice(afterFallback).map((request) => request.path)).toEqual(["/primary/v1/chat/completions"])
  })

  it("stores the first deployment's answers", async () => {
    const messages = [{ role: "user" as const, content: "Does the healthy deployment get cached?" }]
    upstream.enqueue({ fixture: TEXT_JSON })
    await client.chat.completions.create({ model: "cached-pair", messages })

    const repeated = await client.chat.completions.create({ model: "cached-pair", messages }).withResponse()
    expect(repeated.response.headers.get("x-fluxen-cache")).toBe("hit")
  })
})
