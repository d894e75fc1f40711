/**
 * The `@fluxen/policy` plugin in a running gateway while Redis hangs: a TCP
 * proxy between the policy and the shared Redis stops forwarding but keeps
 * its connections open. After a few timed-out admissions, the policy's
 * circuit breaker must let requests through unchecked (`redis.failMode:
 * open`) without waiting for the command timeout, report Redis as down on
 * `/metrics`, and check the rate limit again once Redis responds.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTcpProxy, type TcpProxy } from "@fluxen/sdk/testing"
import { startTestGateway, type TestGateway } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { chatReply, deleteRedisKeys, newFluxenKey, newRedisPrefix, policyPluginsYaml, postChat, sharedRedisUrl } from "./policyHarness.js"

const MODEL = "gpt-4.1-nano"
const COMMAND_TIMEOUT_MS = 500
const request = { model: MODEL, messages: [{ role: "user", content: "Say hi" }], max_tokens: 20 }

describe("policy while Redis hangs", () => {
  const key = newFluxenKey()
  const prefix = newRedisPrefix()
  const proxyScope = Effect.runSync(Scope.make())
  let proxy: TcpProxy
  let upstream: ReplayUpstream
  let gateway: TestGateway

  beforeAll(async () => {
    proxy = await Effect.runPromise(Scope.extend(startTcpProxy(Number(new URL(sharedRedisUrl).port || 6379)), proxyScope))
    upstream = await startReplayUpstream()
    upstream.route("/v1/chat/completions", { body: chatReply(MODEL, 10, 5) })
    gateway = await startTestGateway({
      upstreamUrl: upstream.url,
      env: { FX_KEY: key },
      pluginsYaml: policyPluginsYaml({
        keys: [{ key: "${FX_KEY}", name: "hung", limits: { requestsPerMinute: 1_000 } }],
        redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS, failMode: "open" }
      })
    })
  })

  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
    await Effect.runPromise(Scope.close(proxyScope, Exit.void))
    deleteRedisKeys(sharedRedisUrl, prefix)
  })

  /** Posts a chat request and returns its status, its remaining-requests header and the time to the response body, in milliseconds. */
  const post = async () => {
    const started = performance.now()
    const response = await postChat(gateway, key, request)
    await response.arrayBuffer()
    return { status: response.status, remaining: response.headers.get("x-ratelimit-remaining-requests"), elapsedMs: performance.now() - started }
  }

  const redisUp = async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text()
    return text.split("\n").find((line) => line.startsWith("fluxen_policy_redis_up{"))?.split(" ")[1]
  }

  it("passes at once, then checks again", async () => {
    expect((await post()).remaining).toBe("999")
    expect(await redisUp()).toBe("1")

    await Effect.runPromise(proxy.pause)
    const whileHung = []
    for (let i = 0; i < 12; i++) whileHung.push(await post())

    for (const result of whileHung) expect(result.status).toBe(200)
    for (const result of whileHung) expect(result.remaining).toBeNull()
    // Three admissions time out, which opens the breaker.
    expect(whileHung.slice(0, 3).every((result) => result.elapsedMs >= COMMAND_TIMEOUT_MS)).toBe(true)
    expect(Math.max(...whileHung.slice(3).map((result) => result.elapsedMs))).toBeLessThan(COMMAND_TIMEOUT_MS / 3)
    expect(await redisUp()).toBe("0")

    await Effect.runPromise(proxy.resume)
    const deadline = performance.now() + 10_000
    let after = await post()
    while (after.remaining === null && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await post()
    }

    expect(after.status).toBe(200)
    expect(after.remaining).not.toBeNull()
    expect(await redisUp()).toBe("1")
  }, 30_000)
})
