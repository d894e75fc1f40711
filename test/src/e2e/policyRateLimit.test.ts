/**
 * Rate limits through running gateways: two Fluxen instances sharing one
 * limit through Redis, and a Redis of the test's own that goes away.
 */
import { afterEach, describe, expect, it } from "vitest"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { readOpenAIError } from "./harness.js"
import {
  adminRequest,
  chatReply,
  deleteRedisKeys,
  listRedisKeys,
  newFluxenKey,
  newRedisPrefix,
  policyPluginsYaml,
  postChat,
  sharedRedisUrl,
  startOwnRedis,
  type OwnRedis
} from "./policyHarness.js"

const MODEL = "gpt-4.1-nano"
const MASTER = "e2e-master-key-0123456789"
const request = { model: MODEL, messages: [{ role: "user", content: "Say hi" }], max_tokens: 20 }

const cleanups: Array<() => Promise<void> | void> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const upstreamFor = async (): Promise<ReplayUpstream> => {
  const upstream = await startReplayUpstream()
  cleanups.push(() => upstream.close())
  // Every request gets the same small reply.
  upstream.route("/v1/chat/completions", { body: chatReply(MODEL, 10, 5) })
  return upstream
}

const gatewayWith = async (upstream: ReplayUpstream, key: string, policy: Record<string, unknown>): Promise<TestGateway> => {
  const gateway = await startTestGateway({
    upstreamUrl: upstream.url,
    env: { FX_KEY: key, FX_MASTER: MASTER },
    pluginsYaml: policyPluginsYaml({ masterKey: "${FX_MASTER}", ...policy })
  })
  cleanups.push(() => gateway.close())
  return gateway
}

const send = async (gateway: TestGateway, key: string) => {
  const response = await postChat(gateway, key, request)
  await response.arrayBuffer()
  return response
}

describe("rate limit shared through Redis", () => {
  it("counts requests of two instances against one limit", async () => {
    const prefix = newRedisPrefix()
    cleanups.push(() => deleteRedisKeys(sharedRedisUrl, prefix))
    const key = newFluxenKey()
    const upstream = await upstreamFor()
    const policy = {
      keys: [{ key: "${FX_KEY}", name: "shared", limits: { requestsPerMinute: 3 } }],
      redis: { url: sharedRedisUrl, keyPrefix: prefix }
    }
    const first = await gatewayWith(upstream, key, policy)
    const second = await gatewayWith(upstream, key, policy)

    const responses = []
    for (const gateway of [first, second, first, second]) responses.push(await send(gateway, key))

    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 429])
    expect(responses.slice(0, 3).map((response) => response.headers.get("x-ratelimit-remaining-requests"))).toEqual(["2", "1", "0"])
    const refused = responses[3]!
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(19)
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(20)
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0")
    expect(upstream.requests).toHaveLength(3)
    expect(listRedisKeys(sharedRedisUrl, prefix)).toContain(`${prefix}rate:key:static%3Ashared:requests`)
  })
})

describe("Redis that goes away", () => {
  const startWithOwnRedis = async (failMode: "open" | "closed") => {
    const redis: OwnRedis = await startOwnRedis()
    cleanups.push(() => redis.stop())
    const key = newFluxenKey()
    const upstream = await upstreamFor()
    const gateway = await gatewayWith(upstream, key, {
      keys: [{ key: "${FX_KEY}", name: "resilient", limits: { requestsPerMinute: 100 }, budgets: [{ period: "day", limitUsd: 10 }] }],
      redis: { url: redis.url, failMode, commandTimeoutMs: 200, connectTimeoutMs: 500 }
    })
    return { redis, key, gateway, upstream }
  }

  it("fail mode open passes requests", async () => {
    const { redis, key, gateway, upstream } = await startWithOwnRedis("open")

    const before = await send(gateway, key)
    await redis.stop()
    const during = await send(gateway, key)
    const status = await (await adminRequest(gateway, "GET", "/status", MASTER)).json()

    expect(before.status).toBe(200)
    expect(before.headers.get("x-ratelimit-remaining-requests")).toBe("99")
    expect(during.status).toBe(200)
    expect(during.headers.get("x-ratelimit-remaining-requests")).toBeNull()
    expect(upstream.requests).toHaveLength(2)
    expect(status).toMatchObject({ store: "redis", unchecked_admissions: 1 })
  })

  it("fail mode closed rejects requests", async () => {
    const { redis, key, gateway, upstream } = await startWithOwnRedis("closed")

    const before = await send(gateway, key)
    await redis.stop()
    const during = await postChat(gateway, key, request)

    expect(before.status).toBe(200)
    expect(during.status).toBe(429)
    expect(during.headers.get("retry-after")).toBe("1")
    const body = await readOpenAIError(during)
    expect(body.error.code).toBe("rate_limit_exceeded")
    expect(body.error.message).toContain("limit store does not respond")
    expect(upstream.requests).toHaveLength(1)
  })
})
