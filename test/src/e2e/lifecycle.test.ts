import Database from "better-sqlite3"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import OpenAI from "openai"
import { startTcpProxy } from "@fluxen/sdk/testing"
import { Effect, Exit, Scope } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createSchema, dropSchema, postgresUrl, randomName } from "../support/gateway.js"
import { freePort } from "../support/freePort.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { waitFor } from "../support/waitFor.js"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
const cli = Path.join(repository, "runtime", "dist", "bin", "fluxen.js")

const configText = (port: number, upstreamUrl: string, extraModels = "", shutdownTimeout = "10 seconds") => `server: { host: 127.0.0.1, port: ${port}, shutdownTimeout: ${shutdownTimeout} }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: info }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "sk-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
  gpt-4o: { provider: openai, model: gpt-4o-2024-08-06, fallbacks: [gpt-4o-mini] }
${extraModels}
plugins: []
`

const modelIds = async (url: string): Promise<Array<string>> => {
  const body = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }
  return body.data.map((model) => model.id).sort()
}

describe("process lifecycle", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess
  let directory: string
  let configPath: string
  let url: string
  let port: number
  let output = ""

  beforeEach(async () => {
    upstream = await startReplayUpstream()
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-lifecycle-"))
    configPath = Path.join(directory, "fluxen.yaml")
    port = await freePort()
    url = `http://127.0.0.1:${port}`
    output = ""
    await startChild(configText(port, upstream.url))
  })

  /** Writes `config` and starts a gateway on it, in place of any that ran before. */
  const startChild = async (config: string): Promise<ChildProcess> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGKILL")
      await exited
    }
    writeFileSync(configPath, config)
    child = spawn(process.execPath, [cli, "start", "--config", configPath], { cwd: directory, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, "the gateway to start", () => output)
    return child
  }

  afterEach(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await upstream.close()
    rmSync(directory, { recursive: true, force: true })
  })

  const slowStream = (client: OpenAI) => {
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 60 })
    return (async () => {
      const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      let text = ""
      let finish: string | null = null
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      return { text, finish }
    })()
  }

  it("reloads on SIGHUP without dropping a stream", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const inFlight = slowStream(client)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    writeFileSync(configPath, configText(port, upstream.url, "  gpt-4.1-nano: { provider: openai }"))
    child.kill("SIGHUP")
    await waitFor(async () => (await modelIds(url)).includes("gpt-4.1-nano"), "the reloaded model list", () => output)

    const { text, finish } = await inFlight
    expect(text.length).toBeGreaterThan(0)
    expect(finish).toBe("stop")
    expect(await modelIds(url)).toEqual(["gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"])
  })

  it("logs failed upstream calls", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    // Both calls fail: gpt-4o, then its fallback gpt-4o-mini. The upstream repeats the key it
    // got, which must not reach the log.
    const overloaded = (upstreamId: string) => ({
      status: 503,
      headers: { "x-request-id": upstreamId },
      body: JSON.stringify({ error: { message: "The engine is overloaded for key sk-test-upstream-key.", type: "server_error" } })
    })
    upstream.enqueue(overloaded("req_first_attempt"))
    upstream.enqueue(overloaded("req_last_attempt"))

    const failure = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).catch((error: unknown) => error)

    expect(failure).toBeInstanceOf(OpenAI.APIError)
    const requestId = (failure as InstanceType<typeof OpenAI.APIError>).headers?.get("x-fluxen-request-id")
    await waitFor(async () => output.includes("Upstream call failed"), "the upstream failure log", () => output)
    const line = output.split("\n").find((text) => text.includes("Upstream call failed"))!
    expect(line).toContain("level=WARN")
    expect(line).toContain(`request.id=${requestId}`)
    expect(line).toContain("error=UpstreamHttpError")
    expect(line).toContain("http.status=503")
    expect(line).toContain("provider=openai")
    expect(line).toContain("model=gpt-4o-mini-2024-07-18")
    expect(line).toContain("upstream.request_id=req_last_attempt")
    expect((failure as InstanceType<typeof OpenAI.APIError>).headers?.get("x-fluxen-upstream-request-id")).toBe("req_last_attempt")
    expect(line).toContain("The engine is overloaded for key [redacted].")
    expect(output).not.toContain("sk-test-upstream-key")
  })

  it("logs an upstream 401 as a warning", async () => {
    // Clients' keys never reach the provider, so a 401 means Fluxen's own provider key is wrong.
    upstream.enqueue({ fixture: "openai/chat-completions/error-401-invalid-api-key.json" })
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })

    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).catch(() => undefined)
    await waitFor(async () => output.includes("Upstream call failed"), "the upstream failure log", () => output)
    const line = output.split("\n").find((text) => text.includes("Upstream call failed"))!

    expect(line).toContain("level=WARN")
    expect(line).toContain("http.status=401")
  })

  it("keeps the running configuration when the new one is invalid", async () => {
    writeFileSync(configPath, configText(port, upstream.url, "  broken: { provider: nowhere }"))
    child.kill("SIGHUP")
    await waitFor(async () => output.includes("Configuration reload failed"), "the reload failure log", () => output)
    expect(output).toContain("models.broken.provider")
    expect(await modelIds(url)).toEqual(["gpt-4o", "gpt-4o-mini"])
    expect(child.exitCode).toBeNull()
  })

  it("reload lists every plugin problem", async () => {
    const plugins = `plugins:
  - use: "@fluxen/analyzer"
    config: { unknownAnalyzerSetting: 1 }
  - use: "@fluxen/cache"
    config: { unknownCacheSetting: 2 }
`
    writeFileSync(configPath, configText(port, upstream.url).replace("plugins: []\n", plugins))
    child.kill("SIGHUP")
    await waitFor(async () => output.includes("Configuration reload failed"), "the reload failure log", () => output)

    expect(output).toContain("unknownAnalyzerSetting")
    expect(output).toContain("unknownCacheSetting")
    expect(await modelIds(url)).toEqual(["gpt-4o", "gpt-4o-mini"])
  })

  it("reload warns of unapplied restart sections", async () => {
    const reload = async (config: string) => {
      const logStart = output.length
      writeFileSync(configPath, config)
      child.kill("SIGHUP")
      await waitFor(async () => output.slice(logStart).includes("Configuration reloaded"), "the reload", () => output)
      return output.slice(logStart)
    }
    const restartWarning = "take effect only after a restart"
    const slowerFlush = configText(port, upstream.url).replace("flushInterval: 50", "flushInterval: 80")

    expect(await reload(slowerFlush)).toContain(restartWarning)
    // The flush interval of the start is still in effect, so the file differs from it again.
    expect(await reload(slowerFlush)).toContain(restartWarning)
    // Back to the values of the start, so no section waits for a restart.
    expect(await reload(configText(port, upstream.url))).not.toContain(restartWarning)
  })

  it("SIGTERM closes a reloaded gateway's plugins", async () => {
    const otel = `plugins:
  - use: "@fluxen/otel"
    config: { endpoint: "${upstream.url}/v1/traces" }
`
    writeFileSync(configPath, configText(port, upstream.url).replace("plugins: []\n", otel))
    child.kill("SIGHUP")
    await waitFor(async () => output.includes("Configuration reloaded"), "the reload", () => output)

    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")

    expect(await exited).toBe(0)
    expect(output).toContain("OpenTelemetry export stopped")
    expect(output).toMatch(/Stop signal received; shutting down.*signal=SIGTERM/)
    // The last line reports the stop and the exit status.
    expect(output.trimEnd().split("\n").at(-1)).toMatch(/Fluxen stopped.*exit\.status=0/)
  })

  it("reload names a restart for unset variables", async () => {
    // The variable is absent from the child's environment, as one exported in a shell after the start would be.
    const unsetModel = "  added: { provider: openai, model: \"${FLUXEN_LIFECYCLE_UNSET_MODEL}\" }"
    writeFileSync(configPath, configText(port, upstream.url, unsetModel))
    child.kill("SIGHUP")
    await waitFor(async () => output.includes("Configuration reload failed"), "the reload failure log", () => output)
    expect(output).toContain("FLUXEN_LIFECYCLE_UNSET_MODEL is not set in the environment Fluxen started with")
    expect(output).toContain("Restart Fluxen with FLUXEN_LIFECYCLE_UNSET_MODEL set")
    expect(await modelIds(url)).toEqual(["gpt-4o", "gpt-4o-mini"])
  })

  it("finishes an in-flight stream on SIGTERM and writes its usage", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const inFlight = slowStream(client)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    const { finish } = await inFlight
    expect(finish).toBe("stop")
    expect(await exited).toBe(0)

    const database = new Database(Path.join(directory, "usage.db"), { readonly: true })
    try {
      const rows = database.prepare("select status, prompt_tokens, completion_tokens from fluxen_usage").all()
      expect(rows).toEqual([{ status: "ok", prompt_tokens: 78, completion_tokens: 9 }])
    } finally {
      database.close()
    }
  })

  it("SIGTERM: closes a stream after shutdownTimeout", async () => {
    // A second gateway whose drain may take one second, in front of a stream that would take a minute.
    const slow = await startChild(configText(port, upstream.url, "", "1 second"))
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 5_000 })
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const inFlight = client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      .then(async (stream) => {
        for await (const _ of stream) continue
      })
      .catch((caught: unknown) => caught)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const started = Date.now()
    const exited = new Promise<number | null>((resolve) => slow.once("exit", (code) => resolve(code)))
    slow.kill("SIGTERM")
    const code = await exited
    const elapsed = Date.now() - started
    await inFlight

    expect(code).toBe(0)
    // One second of drain, then the flush. The stream alone would take over a minute.
    expect(elapsed).toBeLessThan(15_000)
    expect(output).toContain("Shutdown deadline reached")
    const database = new Database(Path.join(directory, "usage.db"), { readonly: true })
    try {
      const rows = database.prepare("select status from fluxen_usage").all()
      expect(rows).toEqual([{ status: "cancelled" }])
    } finally {
      database.close()
    }
  })

  it("lost usage records: exit status 1", async () => {
    // Another connection holds the database locked, so no insert can succeed until shutdown gives up.
    const blocker = new Database(Path.join(directory, "usage.db"))
    try {
      blocker.exec("BEGIN EXCLUSIVE")
      upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
      const { response } = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).withResponse()
      const requestId = response.headers.get("x-fluxen-request-id")!

      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      child.kill("SIGTERM")

      expect(await exited).toBe(1)
      const unwritten = output.split("\n").filter((line) => line.includes(`message="Usage record not written"`))
      expect(unwritten).toHaveLength(1)
      expect(unwritten[0]).toContain(requestId)
    } finally {
      blocker.close()
    }
  }, 60_000)

  it("hung PostgreSQL: stop stays bounded", async () => {
    const schema = randomName()
    await createSchema(schema)
    const proxyScope = Effect.runSync(Scope.make())
    try {
      const proxy = await Effect.runPromise(Scope.extend(startTcpProxy(Number(new URL(postgresUrl).port || 5432)), proxyScope))
      const proxiedUrl = new URL(postgresUrl)
      proxiedUrl.port = String(proxy.port)
      proxiedUrl.searchParams.set("options", `-c search_path=${schema}`)
      await startChild(
        configText(port, upstream.url, "", "1 second").replace("usage: { sqlitePath: ./usage.db,", `usage: { databaseUrl: "${proxiedUrl}",`)
      )

      // The connection stays open and silent, as with a stalled server or a network partition.
      await Effect.runPromise(proxy.pause)
      upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
      const { response } = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).withResponse()
      const requestId = response.headers.get("x-fluxen-request-id")!
      // Waits past the flush interval of 50 ms, so that an insert is waiting on the silent connection.
      await new Promise((resolve) => setTimeout(resolve, 300))

      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const stopStart = Date.now()
      child.kill("SIGTERM")
      const code = await exited
      const stopMs = Date.now() - stopStart

      // 1 s for the server to drain, 10 s for the usage writer, and a margin for a slow machine.
      expect(stopMs).toBeLessThan(20_000)
      expect(code).toBe(1)
      const unwritten = output.split("\n").filter((line) => line.includes(`message="Usage record not written"`))
      expect(unwritten).toHaveLength(1)
      expect(unwritten[0]).toContain(requestId)
    } finally {
      await Effect.runPromise(Scope.close(proxyScope, Exit.void))
      await dropSchema(schema)
    }
  }, 60_000)

  it("debug log: rejections without fiber noise", async () => {
    const policy = `plugins:
  - use: "@fluxen/policy"
    config: { masterKey: "lifecycle-master-key-0123456789" }
`
    await startChild(configText(port, upstream.url).replace("logging: { level: info }", "logging: { level: debug }").replace("plugins: []\n", policy))
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "not-a-fluxen-key", maxRetries: 0 })

    const failure = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).catch((error: unknown) => error)
    // Stopping the gateway makes sure its output is complete.
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.kill("SIGTERM")
    await exited

    expect(failure).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(output).toContain("level=DEBUG")
    expect(output).not.toContain("Fiber terminated with an unhandled error")
  })
})
