/**
 * A running gateway while its PostgreSQL usage database hangs: the gateway
 * reaches the real server through a TCP proxy, which the tests pause so that
 * every connection stays open and silent, as with a stalled server or a
 * network partition. The gateway runs as a child process, so the tests read
 * its log as an operator does.
 */
import { startTcpProxy, type TcpProxy } from "@fluxen/sdk/testing"
import { Effect, Exit, Scope } from "effect"
import OpenAI from "openai"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { createSchema, dropSchema, postgresUrl, randomName } from "../support/gateway.js"
import { startGatewayProcess, type GatewayProcess } from "../support/gatewayProcess.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { waitFor } from "../support/waitFor.js"

const configText = (databaseUrl: string, upstreamUrl: string) => `server: { host: 127.0.0.1, port: 0, shutdownTimeout: 1 second }
usage: { databaseUrl: "${databaseUrl}", flushInterval: 50, insertTimeout: 500 }
logging: { level: info }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "sk-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
plugins: []
`

/** Reads one unlabelled sample from a `/metrics` scrape. */
const metricValue = (metrics: string, name: string): number => {
  const line = metrics.split("\n").find((candidate) => candidate.startsWith(`${name} `))
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
}

describe("gateway while the usage database hangs", () => {
  const proxyScope = Effect.runSync(Scope.make())
  const schema = randomName()
  let upstream: ReplayUpstream
  let proxy: TcpProxy
  let gateway: GatewayProcess

  beforeAll(async () => {
    await createSchema(schema)
    upstream = await startReplayUpstream()
    proxy = await Effect.runPromise(Scope.extend(startTcpProxy(Number(new URL(postgresUrl).port || 5432)), proxyScope))
    const databaseUrl = new URL(postgresUrl)
    databaseUrl.hostname = "127.0.0.1"
    databaseUrl.port = String(proxy.port)
    databaseUrl.searchParams.set("options", `-c search_path=${schema}`)
    gateway = await startGatewayProcess(configText(databaseUrl.toString(), upstream.url))
  })

  afterEach(async () => {
    await Effect.runPromise(proxy.resume)
  })

  afterAll(async () => {
    await gateway?.stop()
    await Effect.runPromise(Scope.close(proxyScope, Exit.void))
    await upstream?.close()
    await dropSchema(schema)
  })

  const scrape = async (name: string) => metricValue(await (await fetch(`${gateway.url}/metrics`)).text(), name)

  it("counts hung inserts as failed", async () => {
    await Effect.runPromise(proxy.pause)
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "client-key", maxRetries: 0 })
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })

    await waitFor(async () => (await scrape("fluxen_usage_failed_flushes_total")) >= 2, "two failed inserts", gateway.output)
    expect(await scrape("fluxen_usage_queue_records")).toBe(1)
    const failures = gateway.output().split("\n").filter((line) => line.includes("Inserting 1 usage records failed"))
    expect(failures.length).toBeGreaterThanOrEqual(2)
    expect(failures[0]).toContain("level=ERROR")
    expect(failures[0]).toContain("failed on attempt 1, so the writer keeps them and retries in")
    expect(failures[0]).toContain(`error="Timed out after 500 ms waiting for the database to complete the insert"`)
    expect(failures[0]).not.toContain("cause=")

    await Effect.runPromise(proxy.resume)
    await waitFor(async () => (await scrape("fluxen_usage_written_records_total")) === 1, "the record to be written", gateway.output)
    expect(await scrape("fluxen_usage_queue_records")).toBe(0)
    expect(await scrape("fluxen_usage_dropped_records_total")).toBe(0)
  }, 60_000)
})
