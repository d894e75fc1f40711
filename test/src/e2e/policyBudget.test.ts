/**
 * Budget enforcement through a running gateway: concurrent requests against
 * a budget that fits one of them, with counters in memory and in Redis.
 */
import { afterEach, describe, expect, it } from "vitest"
import { startHarness, readOpenAIError, requestIdOf, waitForRecord, type Harness } from "./harness.js"
import {
  chatReply,
  deleteRedisKeys,
  newFluxenKey,
  newRedisPrefix,
  policyPluginsYaml,
  postChat,
  sharedRedisUrl
} from "./policyHarness.js"

// At $10 per million input and output tokens, 30 prompt and 50 completion
// tokens cost exactly $0.0008. A request with max_tokens 50 and a short
// prompt is estimated above $0.0005, so two estimates never fit in $0.001.
const MODEL = "gpt-4.1-nano"
const PRICES = { [MODEL]: { input: 10, output: 10 } }
const BUDGET_USD = 0.001
const REPLY_COST_USD = 0.0008
const UPSTREAM_DELAY_MS = 500

const request = { model: MODEL, messages: [{ role: "user", content: "Say hi" }], max_tokens: 50 }

let harness: Harness | undefined
let redisPrefix: string | undefined

afterEach(async () => {
  await harness?.close()
  harness = undefined
  if (redisPrefix !== undefined) deleteRedisKeys(sharedRedisUrl, redisPrefix)
  redisPrefix = undefined
})

const startWithBudget = async (key: string, redis: boolean) => {
  redisPrefix = redis ? newRedisPrefix() : undefined
  harness = await startHarness({
    env: { FX_KEY: key },
    pluginsYaml: policyPluginsYaml(
      {
        keys: [{ key: "${FX_KEY}", name: "race", budgets: [{ period: "day", limitUsd: BUDGET_USD }] }],
        ...(redis ? { redis: { url: sharedRedisUrl, keyPrefix: redisPrefix } } : {})
      },
      PRICES
    )
  })
  return harness
}

describe.each([
  { store: "memory", redis: false },
  { store: "Redis", redis: true }
])("budget race with counters in $store", ({ redis }) => {
  it("admits exactly one of five concurrent requests", async () => {
    const key = newFluxenKey()
    const { gateway, upstream } = await startWithBudget(key, redis)
    for (let i = 0; i < 5; i++) {
      upstream.enqueue({ body: chatReply(MODEL, 30, 50), delayBeforeHeadersMs: UPSTREAM_DELAY_MS })
    }

    const responses = await Promise.all(Array.from({ length: 5 }, () => postChat(gateway, key, request)))

    const passed = responses.filter((response) => response.status === 200)
    const refused = responses.filter((response) => response.status === 429)
    expect(passed).toHaveLength(1)
    expect(refused).toHaveLength(4)
    expect(upstream.requests).toHaveLength(1)
    for (const response of refused) {
      expect(response.headers.get("x-should-retry")).toBe("false")
      const body = await readOpenAIError(response)
      expect(body.error.type).toBe("insufficient_quota")
      expect(body.error.code).toBe("insufficient_quota")
      expect(body.error.message).toContain("daily budget of the key 'static:race'")
    }

    const record = await waitForRecord(gateway, requestIdOf(passed[0]!.headers))
    expect(record.keyId).toBe("static:race")
    expect(record.costUsd).toBeCloseTo(REPLY_COST_USD, 12)
  })

  it("rejects the next request after settlement", async () => {
    const key = newFluxenKey()
    const { gateway, upstream } = await startWithBudget(key, redis)
    upstream.enqueue({ body: chatReply(MODEL, 30, 50) })

    const first = await postChat(gateway, key, request)
    expect(first.status).toBe(200)
    await first.arrayBuffer()
    // afterUsage runs after the response is sent; the record is written after it.
    await waitForRecord(gateway, requestIdOf(first.headers))

    const second = await postChat(gateway, key, request)
    expect(second.status).toBe(429)
    const body = await readOpenAIError(second)
    expect(body.error.message).toContain("spent $0.0008")
    expect(upstream.requests).toHaveLength(1)
  })

  it("releases the reservation of a cancelled request", async () => {
    const key = newFluxenKey()
    const { gateway, upstream } = await startWithBudget(key, redis)
    upstream.enqueue({ body: chatReply(MODEL, 30, 50), delayBeforeHeadersMs: 5_000 })
    upstream.enqueue({ body: chatReply(MODEL, 30, 50) })

    const controller = new AbortController()
    const cancelled = postChat(gateway, key, request, "authorization", controller.signal).catch((error: unknown) => error)
    while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    // While the first request keeps its reservation, a second request does not fit.
    const whileHeld = await postChat(gateway, key, request)
    controller.abort()
    await upstream.waitForAbort(0)
    expect(await cancelled).toBeInstanceOf(Error)

    let after: Response | undefined
    for (let attempt = 0; attempt < 50; attempt++) {
      after = await postChat(gateway, key, request)
      if (after.status !== 429) break
      await after.arrayBuffer()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }

    expect(whileHeld.status).toBe(429)
    expect(after?.status).toBe(200)
    expect(upstream.requests).toHaveLength(2)
  })
})
