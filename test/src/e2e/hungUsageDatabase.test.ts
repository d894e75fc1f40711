/**
 * A running gateway while its PostgreSQL usage database hangs or goes down.
 * The gateway reaches the real server through a TCP proxy. A test pauses the
 * proxy, so that every connection stays open and silent as with a stalled
 * server or a network partition, or stops it. The gateway runs as a child
 * process, so the tests read its log as an operator does.
 */
import { startTcpProxy, type TcpProxy } from "@fluxen/sdk/testing"
import { Effect, Exit, Scope } from "effect"
import OpenAI from "openai"
import pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { createSchema, dropSchema, postgresUrl, randomName } from "../support/gateway.js"
import { startGatewayProcess, type GatewayProcess } from "../support/gatewayProcess.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { waitFor } from "../support/waitFor.js"

const ADMIN_KEY = "admin-key-of-the-hung-database-tests"

const configText = (databaseUrl: string, upstreamUrl: string) => `server: { host: 127.0.0.1, port: 0, shutdownTimeout: 1 second }
usage: { databaseUrl: "${databaseUrl}", flushInterval: 50, insertTimeout: 500, queryTimeout: 1 second }
admin: { key: "${ADMIN_KEY}" }
logging: { level: debug }
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

describe("gateway while the usage database fails", () => {
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

  /** Requests a control route with the admin key, and returns its status, OpenAI error body, request id and time taken. */
  const getControl = async (path: string) => {
    const started = Date.now()
    const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
    const body = (await response.json()) as { error?: { message: string; type: string; param: string | null; code: string } }
    return { status: response.status, error: body.error, requestId: response.headers.get("x-fluxen-request-id")!, elapsedMs: Date.now() - started }
  }

  /** Returns the log lines of one request. */
  const logLinesOf = (requestId: string) => gateway.output().split("\n").filter((line) => line.includes(`request.id=${requestId}`))

  it.each(["/v1/fluxen/usage", "/v1/fluxen/dashboard-data"])("%s: 503 while hung", async (path) => {
    expect((await getControl(path)).status).toBe(200)

    await Effect.runPromise(proxy.pause)
    const { status, error, requestId, elapsedMs } = await getControl(path)

    expect(status).toBe(503)
    expect(error?.type).toBe("server_error")
    expect(error?.code).toBe("usage_database_unavailable")
    expect(error?.param).toBeNull()
    expect(error?.message).toContain("the usage database did not respond or could not be reached")
    expect(error?.message).toContain(requestId)
    // usage.queryTimeout is 1 second; the rest is a margin for a slow machine.
    expect(elapsedMs).toBeLessThan(3_000)
    const lines = logLinesOf(requestId)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("level=WARN")
    expect(lines[0]).toContain(`message="The usage database did not respond or could not be reached, so GET ${path} returned 503"`)
    expect(lines[0]).toMatch(/error="[^"\\]*(Timed out after 1s|timeout exceeded when trying to connect)/)
    expect(lines[0]).not.toContain("cause=")

    await Effect.runPromise(proxy.resume)
    await waitFor(async () => (await getControl(path)).status === 200, `${path} to recover`, gateway.output)
  }, 60_000)

  it("/readyz: 503 within 2 s while hung", async () => {
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200)

    await Effect.runPromise(proxy.pause)
    const started = Date.now()
    const response = await fetch(`${gateway.url}/readyz`)
    const elapsedMs = Date.now() - started

    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ status: "unavailable", reason: "the usage database probe failed or timed out" })
    // The probe times out after 2 seconds, and the rest is a margin for a slow machine.
    expect(elapsedMs).toBeGreaterThanOrEqual(1_900)
    expect(elapsedMs).toBeLessThan(3_000)

    await Effect.runPromise(proxy.resume)
    await waitFor(async () => (await fetch(`${gateway.url}/readyz`)).status === 200, "/readyz to recover", gateway.output)
  }, 60_000)

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

    const recoveryLines = () => gateway.output().split("\n").filter((line) => line.includes("Usage inserts succeeded again"))
    await waitFor(async () => recoveryLines().length > 0, "the recovery line", gateway.output)
    const failedAttempts = await scrape("fluxen_usage_failed_flushes_total")
    expect(recoveryLines()).toHaveLength(1)
    expect(recoveryLines()[0]).toContain("level=INFO")
    expect(recoveryLines()[0]).toContain(`after ${failedAttempts} failed attempts over `)
    expect(recoveryLines()[0]).toContain("by writing 1 record late")
    expect(recoveryLines()[0]).toContain("usage.late_records=1")
    expect(recoveryLines()[0]).toContain(`usage.failed_attempts=${failedAttempts}`)
    expect(recoveryLines()[0]).toMatch(/usage\.outage_ms=\d+/)
  }, 60_000)

  it("client disconnect: no error logged", async () => {
    await Effect.runPromise(proxy.pause)
    const logStart = gateway.output().length
    const newLines = () => gateway.output().slice(logStart).split("\n")

    // The client gives up after 300 ms, before the read's timeout of 1 second.
    const aborted = await fetch(`${gateway.url}/v1/fluxen/usage`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: AbortSignal.timeout(300)
    }).catch((error: unknown) => error)
    await waitFor(
      async () => newLines().some((line) => line.includes("level=DEBUG") && line.includes("client disconnected")),
      "the debug line about the disconnect",
      gateway.output
    )
    // Past the read's timeout, so that a late failure of the abandoned request would be logged too.
    await new Promise((resolve) => setTimeout(resolve, 1_500))

    expect(aborted).toBeInstanceOf(DOMException)
    const disconnects = newLines().filter((line) => line.includes("client disconnected"))
    expect(disconnects).toHaveLength(1)
    expect(disconnects[0]).toContain("url.path=/v1/fluxen/usage")
    expect(disconnects[0]).toMatch(/request\.id=\S+/)
    expect(newLines().filter((line) => line.includes("level=ERROR"))).toEqual([])
  }, 60_000)

  it("rejected query: 500 at ERROR", async () => {
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    try {
      await admin.query(`ALTER TABLE ${schema}.fluxen_usage RENAME TO fluxen_usage_offline`)
      const { status, error, requestId } = await getControl("/v1/fluxen/usage")

      expect(status).toBe(500)
      expect(error?.code).toBe("internal_error")
      const lines = logLinesOf(requestId)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("level=ERROR")
      expect(lines[0]).toContain(`message="Control route failed"`)
      expect(lines[0]).toContain(`relation \\"fluxen_usage\\" does not exist`)
    } finally {
      await admin.query(`ALTER TABLE ${schema}.fluxen_usage_offline RENAME TO fluxen_usage`)
      await admin.end()
    }
  }, 60_000)

  // Stops the proxy for good, so it runs last.
  it("usage totals: 503 when down", async () => {
    await Effect.runPromise(proxy.stop)
    const { status, error, requestId, elapsedMs } = await getControl("/v1/fluxen/usage")

    expect(status).toBe(503)
    expect(error?.code).toBe("usage_database_unavailable")
    expect(elapsedMs).toBeLessThan(3_000)
    const lines = logLinesOf(requestId)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("level=WARN")
    // A pooled connection that the stop closed fails as terminated, and a new one is refused.
    expect(lines[0]).toMatch(/error="[^"]*(Connection terminated unexpectedly|ECONNREFUSED)/)
  }, 60_000)
})
