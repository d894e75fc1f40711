import { createServer } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { CLIENT_API_KEY, makeClient, NO_PLUGINS, openaiPairProvidersYaml } from "./harness.js"

const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const providers = (upstreamUrl: string, deadPort: number) => `${openaiPairProvidersYaml(upstreamUrl)}  dead:
    use: "@fluxen/provider-openai"
    config:
      baseUrl: http://127.0.0.1:${deadPort}/v1
      apiKey: dead-key
`

const models = `  ordered-pair:
    strategy: ordered
    deployments:
      - provider: primary
        model: gpt-4.1-nano
      - provider: backup
        model: gpt-4.1-nano
  smart:
    alias: ordered-pair
  retrying:
    provider: primary
    model: gpt-4.1-nano
    retry:
      attempts: 2
      initialDelay: 10
      maxDelay: 3 seconds
  impatient:
    provider: primary
    model: gpt-4.1-nano
    retry:
      attempts: 2
      initialDelay: 10
      maxDelay: 1 second
  unreachable-first:
    provider: dead
    model: gpt-4.1-nano
    fallbacks: [ordered-pair]
  balanced:
    strategy: weighted
    deployments:
      - provider: primary
        model: weighted-model
        weight: 3
      - provider: backup
        model: weighted-model
        weight: 1
  failing-pair:
    strategy: ordered
    deployments:
      - provider: primary
        model: failing-model
      - provider: backup
        model: failing-model
  cool-pair:
    strategy: ordered
    deployments:
      - provider: primary
        model: cooldown-model
      - provider: backup
        model: cooldown-model
`

const rateLimited = { status: 429, body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } }) }
const unavailable = { status: 503, body: JSON.stringify({ error: { message: "The server is overloaded", type: "server_error", param: null, code: null } }) }
const message = [{ role: "user" as const, content: "hi" }]

// Each test uses its own upstream model where deployment health matters, because failures
// of one deployment (provider and upstream model) count toward its cooldown across tests.
describe("routing", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let client: OpenAI

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: NO_PLUGINS,
      providersYaml: providers(upstream.url, await closedPort()),
      modelsYaml: models,
      extraYaml: "routing:\n  cooldown:\n    failures: 2\n    window: 1 minute\n    duration: 1 minute\n"
    })
    client = makeClient(gateway)
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  let seen = 0
  beforeEach(() => {
    seen = upstream.requests.length
  })
  const newRequests = () => upstream.requests.slice(seen)

  it("falls back to the next deployment on 429", async () => {
    upstream.enqueue(rateLimited)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "ordered-pair", messages: message })
    expect(completion.choices[0]!.finish_reason).toBe("stop")
    expect(newRequests().map((request) => request.path)).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.provider).toBe("backup")
    expect(record.status).toBe("ok")
  })

  it("falls back on 503 for a stream before any byte was sent", async () => {
    upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })
    const stream = await client.chat.completions.create({ model: "smart", messages: message, stream: true })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    expect(text.length).toBeGreaterThan(0)
    expect(newRequests().map((request) => request.path)).toEqual(["/primary/v1/chat/completions", "/backup/v1/chat/completions"])
  })

  it("falls back to another model when the connection is refused", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "unreachable-first", messages: message })
    expect(completion.choices).toHaveLength(1)
    expect(newRequests()).toHaveLength(1)
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.requestedModel).toBe("unreachable-first")
    expect(record.status).toBe("ok")
  })

  it("all failing: record names last", async () => {
    upstream.enqueue(rateLimited)
    upstream.enqueue(unavailable)
    const error = await client.chat.completions.create({ model: "failing-pair", messages: message }).catch((caught: unknown) => caught)
    const record = (await gateway.usageRecords()).at(-1)!

    expect((error as { status?: number }).status).toBe(503)
    expect(record.provider).toBe("backup")
    expect(record.httpStatus).toBe(503)
  })

  it("after fallbacks the SDK does not retry", async () => {
    // The SDK's default of two retries, which would triple the upstream calls without the header.
    const retryingClient = new OpenAI({ baseURL: gateway.baseURL, apiKey: CLIENT_API_KEY, maxRetries: 2 })
    upstream.enqueue(unavailable)
    upstream.enqueue(unavailable)
    const error = await retryingClient.chat.completions.create({ model: "failing-pair", messages: message }).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(OpenAI.InternalServerError)
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get("x-should-retry")).toBe("false")
    expect(newRequests()).toHaveLength(2)
  })

  it("does not retry or fall back on a 400", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/error-400-unsupported-parameter.json" })
    const error = await client.chat.completions.create({ model: "ordered-pair", messages: message }).catch((caught: unknown) => caught)
    expect((error as { status?: number }).status).toBe(400)
    expect(newRequests()).toHaveLength(1)
  })

  it("honours retry-after before retrying", async () => {
    upstream.enqueue({ ...rateLimited, headers: { "retry-after": "1" } })
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await client.chat.completions.create({ model: "retrying", messages: message })
    const [first, second] = newRequests()
    expect(second).toBeDefined()
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(950)
  })

  it("moves on when retry-after exceeds the maximum delay", async () => {
    upstream.enqueue({ ...rateLimited, headers: { "retry-after": "30" } })
    const error = await client.chat.completions.create({ model: "impatient", messages: message }).catch((caught: unknown) => caught)
    expect((error as { status?: number }).status).toBe(429)
    expect(newRequests()).toHaveLength(1)
    // One upstream call, so the client's own retries are left to it.
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get("x-should-retry")).toBeNull()
  })

  it("retries with backoff up to the configured attempts", async () => {
    upstream.enqueue(unavailable)
    upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "retrying", messages: message })
    expect(completion.choices).toHaveLength(1)
    expect(newRequests()).toHaveLength(3)
  })

  it("balances by weight", async () => {
    upstream.route("/primary/v1/chat/completions", { fixture: "openai/chat-completions/text.json" })
    upstream.route("/backup/v1/chat/completions", { fixture: "openai/chat-completions/text.json" })
    try {
      for (let index = 0; index < 200; index++) {
        await client.chat.completions.create({ model: "balanced", messages: message })
      }
    } finally {
      upstream.unroute("/primary/v1/chat/completions")
      upstream.unroute("/backup/v1/chat/completions")
    }
    const primary = newRequests().filter((request) => request.path.startsWith("/primary")).length
    // Weight 3 against 1: the expected share is 0.75; 200 draws stay within 0.6 to 0.9 with near certainty.
    expect(primary / 200).toBeGreaterThan(0.6)
    expect(primary / 200).toBeLessThan(0.9)
  })

  it("skips a deployment in cooldown", async () => {
    // Two failures of the primary within the window put it in cooldown.
    upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    upstream.enqueue(unavailable)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await client.chat.completions.create({ model: "cool-pair", messages: message })
    await client.chat.completions.create({ model: "cool-pair", messages: message })
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await client.chat.completions.create({ model: "cool-pair", messages: message })
    expect(newRequests().map((request) => request.path.split("/")[1])).toEqual(["primary", "backup", "primary", "backup", "backup"])
  })
})
