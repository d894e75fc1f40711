/**
 * Anthropic's token counting route, `POST /v1/messages/count_tokens`, driven
 * by the official Anthropic SDK's `messages.countTokens`. An Anthropic
 * deployment forwards the count to its upstream, and an OpenAI deployment
 * gets Fluxen's own estimate. With the policy plugin, a count needs a Fluxen key
 * but is charged to no budget.
 *
 * No recording of count_tokens exists, so the upstream's replies below follow
 * the response shape in Anthropic's API reference: `{"input_tokens": N}`.
 */
import Anthropic from "@anthropic-ai/sdk"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { ANTHROPIC_UPSTREAM_KEY, anthropicProviderYaml, waitForRecord } from "./harness.js"
import { newFluxenKey, policyPluginsYaml } from "./policyHarness.js"

const CLIENT_KEY = "client-key-for-count-tokens"
const COUNT_PATH = "/v1/messages/count_tokens"

// gpt-4o-mini comes with the generated configuration.
const modelsYaml = `  claude-sonnet-4-5:
    provider: anthropic
    model: claude-sonnet-4-5-20250929
`

const countReply = (inputTokens: number) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify({ input_tokens: inputTokens }) })

const question: Anthropic.MessageCountTokensParams = {
  model: "claude-sonnet-4-5",
  system: "You are a terse assistant.",
  messages: [
    { role: "user", content: "Name three prime numbers." },
    { role: "assistant", content: "2, 3 and 5." },
    { role: "user", content: "And three more?" }
  ]
}

/** Starts a replaying upstream and a gateway with an Anthropic and an OpenAI provider in front of it. */
const startGateway = async (pluginsYaml?: string, env?: Record<string, string>) => {
  const upstream = await startReplayUpstream()
  const gateway = await startTestGateway({
    upstreamUrl: upstream.url,
    providersYaml: anthropicProviderYaml(upstream.url),
    modelsYaml,
    ...(pluginsYaml === undefined ? {} : { pluginsYaml }),
    ...(env === undefined ? {} : { env })
  })
  return { upstream, gateway }
}

// No retries, because a retried request would take the next reply queued on the upstream.
const clientFor = (gateway: TestGateway, apiKey: string | null) =>
  apiKey === null
    ? new Anthropic({ baseURL: gateway.url, apiKey: null, authToken: null, defaultHeaders: { authorization: null }, maxRetries: 0 })
    : new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0 })

describe("count_tokens without policy", () => {
  let upstream: ReplayUpstream
  let gateway: TestGateway
  let client: Anthropic

  beforeAll(async () => {
    ;({ upstream, gateway } = await startGateway())
    client = clientFor(gateway, CLIENT_KEY)
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("forwards an Anthropic count upstream", async () => {
    upstream.route(COUNT_PATH, countReply(31))

    const { data, response } = await client.messages.countTokens(question).withResponse()

    expect(data).toEqual({ input_tokens: 31 })
    expect(response.headers.get("x-fluxen-token-count")).toBe("upstream")
    expect(response.headers.get("x-fluxen-request-id")).toMatch(/.+/)
    const sent = upstream.requests.at(-1)!
    expect(sent.path).toBe(COUNT_PATH)
    expect(sent.headers["x-api-key"]).toBe(ANTHROPIC_UPSTREAM_KEY)
    expect(JSON.stringify(sent.headers)).not.toContain(CLIENT_KEY)
    expect(sent.json).toEqual({ ...question, model: "claude-sonnet-4-5-20250929" })
    upstream.unroute(COUNT_PATH)
  })

  it("routes a provider/model name", async () => {
    upstream.route(COUNT_PATH, countReply(12))

    const { data, response } = await client.messages.countTokens({ ...question, model: "anthropic/claude-haiku-4-5" }).withResponse()

    expect(data.input_tokens).toBe(12)
    expect(response.headers.get("x-fluxen-token-count")).toBe("upstream")
    expect((upstream.requests.at(-1)!.json as { model: string }).model).toBe("claude-haiku-4-5")
    upstream.unroute(COUNT_PATH)
  })

  it("records a count without usage", async () => {
    upstream.route(COUNT_PATH, countReply(31))

    const { response } = await client.messages.countTokens(question).withResponse()
    const record = await waitForRecord(gateway, response.headers.get("x-fluxen-request-id")!)

    expect(record.endpoint).toBe("count_tokens")
    expect(record.status).toBe("ok")
    expect(record.provider).toBe("anthropic")
    expect(record.stream).toBe(false)
    expect(record.promptTokens).toBeNull()
    expect(record.completionTokens).toBeNull()
    expect(record.usageEstimated).toBe(false)
    expect(record.costUsd).toBe(0)
    upstream.unroute(COUNT_PATH)
  })

  it("estimates an OpenAI count locally", async () => {
    const before = upstream.requests.length
    const expected = o200k.encodeChat(
      [
        { role: "system", content: "You are a terse assistant." },
        { role: "user", content: "Name three prime numbers." },
        { role: "assistant", content: "2, 3 and 5." },
        { role: "user", content: "And three more?" }
      ],
      "gpt-4o"
    ).length

    const { data, response } = await client.messages.countTokens({ ...question, model: "gpt-4o-mini" }).withResponse()

    expect(data).toEqual({ input_tokens: expected })
    expect(response.headers.get("x-fluxen-token-count")).toBe("estimate")
    expect(response.headers.get("x-fluxen-request-id")).toMatch(/.+/)
    expect(upstream.requests.length).toBe(before)
  })

  it("rejects an unknown model", async () => {
    const error = await client.messages.countTokens({ ...question, model: "no-such-model" }).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(Anthropic.NotFoundError)
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: "error", error: { type: "not_found_error" } })
    expect((error as Error).message).toContain("no-such-model")
  })

  it("rejects a body naming the field", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "robot", content: "Hi" }] }
    const error = await client.post(COUNT_PATH, { body }).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(Anthropic.BadRequestError)
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } })
    expect((error as Error).message).toContain("messages[0].role")
  })

  it("raises an upstream error in Anthropic's shape", async () => {
    upstream.route(COUNT_PATH, {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": "7" },
      body: JSON.stringify({ type: "error", error: { type: "rate_limit_error", message: "Too many count requests." } })
    })

    const error = await client.messages.countTokens(question).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).headers.get("retry-after")).toBe("7")
    expect((error as Error).message).toContain("Too many count requests.")
    expect((error as Error).message).not.toContain(ANTHROPIC_UPSTREAM_KEY)
    upstream.unroute(COUNT_PATH)
  })
})

describe("count_tokens with policy", () => {
  const fluxenKey = newFluxenKey()
  let upstream: ReplayUpstream
  let gateway: TestGateway

  beforeAll(async () => {
    ;({ upstream, gateway } = await startGateway(
      policyPluginsYaml({
        keys: [{ key: "${FX_COUNT_KEY}", name: "counter", budgets: [{ period: "day", limitUsd: 0.000001 }] }]
      }),
      { FX_COUNT_KEY: fluxenKey }
    ))
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
  })

  it("rejects a count without a key", async () => {
    upstream.route(COUNT_PATH, countReply(31))
    const before = upstream.requests.length

    const error = await clientFor(gateway, null).messages.countTokens(question).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(Anthropic.AuthenticationError)
    expect((error as Error).message).toContain("Missing API key")
    expect(upstream.requests.length).toBe(before)
    upstream.unroute(COUNT_PATH)
  })

  it("counts with a key, uncharged", async () => {
    upstream.route(COUNT_PATH, countReply(31))
    const client = clientFor(gateway, fluxenKey)

    // The key's budget has room for no priced request, so a count passes only because it is not charged.
    const first = await client.messages.countTokens(question).withResponse()
    const second = await client.messages.countTokens(question).withResponse()
    const record = await waitForRecord(gateway, second.response.headers.get("x-fluxen-request-id")!)

    expect(first.data.input_tokens).toBe(31)
    expect(second.data.input_tokens).toBe(31)
    expect(upstream.requests.at(-1)!.headers["x-api-key"]).toBe(ANTHROPIC_UPSTREAM_KEY)
    expect(record.keyId).toBe("static:counter")
    expect(record.costUsd).toBe(0)
    upstream.unroute(COUNT_PATH)
  })
})
