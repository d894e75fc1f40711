/**
 * The `@fluxen/cache` plugin in a running gateway while Redis hangs: a TCP
 * proxy between the cache and a private redis-server stops forwarding but
 * keeps its connections open. The cache's circuit breaker must then respond
 * with `bypass` without waiting for the command timeout, report Redis as
 * down, and serve hits again once Redis responds.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTcpProxy, type TcpProxy } from "@fluxen/sdk/testing"
import { freePort, startRedisServer, type RedisServer } from "../../../plugins/cache/src/testing/redisServer.js"
import { makeClient, startHarness, type Harness } from "./harness.js"

const TEXT_JSON = "openai/chat-completions/text.json"
const COMMAND_TIMEOUT_MS = 500

describe("cache while Redis hangs", () => {
  let harness: Harness
  let redis: RedisServer
  let proxy: TcpProxy
  const proxyScope = Effect.runSync(Scope.make())

  beforeAll(async () => {
    redis = await startRedisServer(await freePort())
    proxy = await Effect.runPromise(Scope.extend(startTcpProxy(redis.port), proxyScope))
    harness = await startHarness({
      pluginsYaml: `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/cache"
    config:
      store: redis
      redis:
        url: redis://127.0.0.1:${proxy.port}
        keyPrefix: "e2e-hung:"
        commandTimeout: ${COMMAND_TIMEOUT_MS}
`
    })
    harness.upstream.route("/v1/chat/completions", { fixture: TEXT_JSON })
  })

  afterAll(async () => {
    await harness?.close()
    await Effect.runPromise(Scope.close(proxyScope, Exit.void))
    await redis?.stop()
  })

  /** Posts a chat question and returns its cache status and the time to the parsed response, in milliseconds. */
  const post = async (content: string) => {
    const started = performance.now()
    const { response } = await makeClient(harness.gateway)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content }] })
      .withResponse()
    return { cache: response.headers.get("x-fluxen-cache"), elapsedMs: performance.now() - started }
  }
  const redisUp = async () => {
    const text = await (await fetch(`${harness.gateway.url}/metrics`)).text()
    return text.split("\n").find((line) => line.startsWith("fluxen_cache_redis_up{"))?.split(" ")[1]
  }

  it("bypasses at once, then hits again", async () => {
    const question = "Which river flows through the capital of the UK?"
    await post(question)
    expect((await post(question)).cache).toBe("hit")

    await Effect.runPromise(proxy.pause)
    const whileHung = []
    for (let i = 0; i < 12; i++) whileHung.push(await post(question))

    // The first two lookups and the store between them time out, which opens the breaker.
    for (const result of whileHung) expect(result.cache).toBe("bypass")
    expect(whileHung.slice(0, 2).every((result) => result.elapsedMs >= COMMAND_TIMEOUT_MS)).toBe(true)
    expect(Math.max(...whileHung.slice(2).map((result) => result.elapsedMs))).toBeLessThan(COMMAND_TIMEOUT_MS / 3)
    expect(await redisUp()).toBe("0")

    await Effect.runPromise(proxy.resume)
    const deadline = performance.now() + 10_000
    let after = await post(question)
    while (after.cache !== "hit" && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await post(question)
    }

    expect(after.cache).toBe("hit")
    expect(await redisUp()).toBe("1")
  }, 30_000)
})
