import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { anthropicProviderYaml, makeClient } from "./harness.js"

const rulesPlugins = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/rules"
    config:
      headers: [x-team]
      rules:
        - name: long-prompts-to-big-context
          when: 'request.model == "gpt-4o-mini" && request.estimated_tokens > 200'
          action: route
          model: gpt-4.1
        - name: cap-free-tier
          when: 'headers["x-team"] == "free"'
          action: cap
          maxTokens: 50
        - name: no-streams-for-batch
          when: 'headers["x-team"] == "batch" && request.stream'
          action: deny
          message: Batch jobs may not stream.
        - name: tag-team
          when: 'headers["x-team"] != ""'
          action: tag
          tags: { cost-center: "research" }
`

describe("CEL rules", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: rulesPlugins,
      providersYaml: anthropicProviderYaml(upstream.url),
      modelsYaml: "  claude-sonnet-4-5:\n    provider: anthropic\n"
    })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("routes a long prompt to another model", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const client = makeClient(gateway)
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "word ".repeat(400) }] })
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("gpt-4.1")
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.requestedModel).toBe("gpt-4o-mini")
    expect(record.resolvedModel).toBe("gpt-4.1")
    expect(record.metadata).toEqual({ "rule.route": "long-prompts-to-big-context" })
  })

  it("leaves a short prompt on its model", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await makeClient(gateway).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("gpt-4o-mini-2024-07-18")
  })

  it("caps max_tokens and tags the usage record", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await makeClient(gateway).chat.completions.create(
      { model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }], max_tokens: 500 },
      { headers: { "x-team": "free" } }
    )
    expect((upstream.requests.at(-1)!.json as { max_tokens: number }).max_tokens).toBe(50)
    const record = (await gateway.usageRecords()).at(-1)!
    expect(record.metadata).toEqual({ "cost-center": "research" })
  })

  it("leaves a token count uncapped", async () => {
    // No recording of count_tokens exists; this reply follows the shape in Anthropic's API reference.
    upstream.enqueue({ headers: { "content-type": "application/json" }, body: '{"input_tokens":9}' })
    const response = await fetch(`${gateway.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-team": "free" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] })
    })

    expect(response.status).toBe(200)
    expect(upstream.requests.at(-1)!.path).toBe("/v1/messages/count_tokens")
    expect(upstream.requests.at(-1)!.json).not.toHaveProperty("max_tokens")
    expect((await gateway.usageRecords()).at(-1)!.metadata).toEqual({ "cost-center": "research" })
  })

  it("denies with 403 naming the rule", async () => {
    const before = upstream.requests.length
    const error = await makeClient(gateway)
      .chat.completions.create({ model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }], stream: true }, { headers: { "x-team": "batch" } })
      .catch((caught: unknown) => caught as { status: number; message: string })
    expect(error.status).toBe(403)
    expect(error.message).toContain("Batch jobs may not stream.")
    expect(error.message).toContain("no-streams-for-batch")
    expect(upstream.requests.length).toBe(before)
  })

  it("refuses to start with a bad expression and names the rule", async () => {
    const failure = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: `plugins:\n  - use: "@fluxen/rules"\n    config:\n      rules:\n        - { name: broken, when: "request.model ==", action: deny }\n`
    }).then(
      () => "started",
      (error: unknown) => String(error)
    )
    expect(failure).toContain("plugins[0].config.rules[0].when")
    expect(failure).toContain("Invalid CEL expression")
  })
})

describe("CEL rules with the cache", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      pluginsYaml: `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/rules"
    config:
      headers: [x-route]
      rules:
        - { name: small-model, when: 'headers["x-route"] == "small"', action: route, model: gpt-4.1-nano }
  - use: "@fluxen/cache"
`
    })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("keys a rerouted request by the model that served it", async () => {
    const client = makeClient(gateway)
    const messages = [{ role: "user" as const, content: "Which model answers this?" }]

    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await client.chat.completions.create({ model: "gpt-4o-mini", messages }, { headers: { "x-route": "small" } })
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("gpt-4.1-nano")

    // Without the header the request stays on gpt-4o-mini, so the entry stored for gpt-4.1-nano must not answer it.
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const before = upstream.requests.length
    await client.chat.completions.create({ model: "gpt-4o-mini", messages })
    expect(upstream.requests.length).toBe(before + 1)
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("gpt-4o-mini-2024-07-18")

    // The rerouted request again hits the entry stored under gpt-4.1-nano.
    const response = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages }, { headers: { "x-route": "small" } })
      .withResponse()
    expect(response.response.headers.get("x-fluxen-cache")).toBe("hit")
    expect(upstream.requests.length).toBe(before + 1)
  })
})
