import Anthropic from "@anthropic-ai/sdk"
import { spawn, type ChildProcess } from "node:child_process"
import Database from "better-sqlite3"
import { createRequire } from "node:module"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import OpenAI from "openai"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { startReplayUpstream, type ReplayUpstream, type WritePattern } from "../support/replayUpstream.js"
import { freePort } from "../support/freePort.js"
import { waitFor } from "../support/waitFor.js"

const repository = fileURLToPath(new URL("../../../", import.meta.url))
// The binary itself, because `.bin/deno` may be a Node wrapper that does not forward signals.
// The deno package's install API copies it out of the platform package when its install
// script has not run, without any download.
const deno = (createRequire(import.meta.url)("deno/install_api.cjs") as { runInstall: () => string }).runInstall()
const entry = Path.join(repository, "runtime", "dist", "deno", "main.js")
// Without the flag, Deno 2.9 aborts every request's signal after its response and warns about it.
const denoRun = ["run", "-A", "--unstable-no-legacy-abort", entry]

const waitForHealth = async (url: string, child: ChildProcess, output: () => string) => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Deno exited with ${child.exitCode}:\n${output()}`)
    const healthy = await fetch(`${url}/healthz`).then((response) => response.ok, () => false)
    if (healthy) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`Fluxen on Deno did not become healthy:\n${output()}`)
}

describe("runtime on Deno", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess
  let directory: string
  let url: string
  let output = ""

  beforeAll(async () => {
    upstream = await startReplayUpstream()
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-deno-"))
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    writeFileSync(
      Path.join(directory, "fluxen.yaml"),
      `server: { host: 127.0.0.1, port: ${port} }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: warning }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstream.url}/v1", apiKey: "sk-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
  gpt-4.1-nano: { provider: openai }
plugins:
  - use: "@fluxen/analyzer"
`
    )
    child = spawn(deno, [...denoRun, "start", "--config", Path.join(directory, "fluxen.yaml")], {
      cwd: repository,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitForHealth(url, child, () => output)
  }, 90_000)

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill("SIGKILL")
    await upstream?.close()
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
  })

  it("serves a plain and a streamed chat and records usage", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const completion = await client.chat.completions.create({ model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }] })
    expect(completion.usage?.prompt_tokens).toBe(16)

    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: { bytes: 7 } })
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    let text = ""
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      text += chunk.choices[0]?.delta.content ?? ""
    }
    expect(chunks).toBeGreaterThan(1)
    expect(text.length).toBeGreaterThan(0)
    expect((upstream.requests.at(-1)!.json as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true })

    // The writer flushes every 50 ms; wait for both records to land.
    let totals: Array<{ group: string; requests: number; promptTokens: number; completionTokens: number; costUsd: number }> = []
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const response = await fetch(`${url}/v1/fluxen/usage?group_by=model`)
      totals = ((await response.json()) as { data: typeof totals }).data
      if (totals.reduce((sum, total) => sum + total.requests, 0) === 2) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const byModel = Object.fromEntries(totals.map((total) => [total.group, total]))
    expect(byModel["gpt-4.1-nano"]?.promptTokens).toBe(16)
    expect(byModel["gpt-4o-mini-2024-07-18"]?.promptTokens).toBe(78)
    expect(byModel["gpt-4o-mini-2024-07-18"]?.completionTokens).toBe(9)
    expect(byModel["gpt-4.1-nano"]?.costUsd).toBeGreaterThan(0)
  })

  // After the usage test, whose totals must count its two chats only.
  it("stream read whole: same text", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const read = async (writes: WritePattern) => {
      upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes })
      const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      let text = ""
      let usageChunks = 0
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        if (chunk.usage) usageChunks++
      }
      return { text, usageChunks }
    }

    // A single write relays most events as the upstream's bytes, and 7-byte writes parse every event.
    const whole = await read("single")
    const bytewise = await read({ bytes: 7 })
    expect(whole.text.length).toBeGreaterThan(0)
    expect(whole.text).toBe(bytewise.text)
    // The client did not ask for usage, so the usage chunk that Fluxen requested is left out.
    expect(whole.usageChunks).toBe(0)
  })

  it("estimates a token count", async () => {
    const content = "How many tokens does this question take?"
    const response = await fetch(`${url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] })
    })

    expect(response.status).toBe(200)
    expect(response.headers.get("x-fluxen-token-count")).toBe("estimate")
    expect(await response.json()).toEqual({ input_tokens: o200k.encodeChat([{ role: "user", content }], "gpt-4o").length })
  })

  it("wrong method: 405 with Allow", async () => {
    const cases = [
      ["GET", "/v1/chat/completions", "POST"],
      ["POST", "/v1/fluxen/usage", "GET, HEAD"]
    ] as const
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${url}${path}`, { method })
      const body = (await response.json()) as { error: { code: string } }

      expect(response.status, `${method} ${path}`).toBe(405)
      expect(response.headers.get("allow"), `${method} ${path}`).toBe(allow)
      expect(body.error.code, `${method} ${path}`).toBe("method_not_allowed")
    }
  })

  it("shuts down cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 20_000))])
    expect(code).toBe(0)
  }, 30_000)
})

const configText = (port: number, upstreamUrl: string, shutdownTimeout: string) => `server: { host: 127.0.0.1, port: ${port}, shutdownTimeout: ${shutdownTimeout} }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: info }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "sk-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
plugins:
  - use: "@fluxen/analyzer"
`

// Each test starts its own Deno, without NO_COLOR, so that the log is checked as an operator's terminal gets it.
describe("runtime on Deno: shutdown", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess
  let directory: string
  let url: string
  let output = ""

  const start = async (shutdownTimeout: string) => {
    upstream = await startReplayUpstream()
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-deno-shutdown-"))
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    output = ""
    writeFileSync(Path.join(directory, "fluxen.yaml"), configText(port, upstream.url, shutdownTimeout))
    child = spawn(deno, [...denoRun, "start", "--config", Path.join(directory, "fluxen.yaml")], {
      cwd: repository,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitForHealth(url, child, () => output)
  }

  const stop = async (): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    return exited
  }

  const usageRows = (columns: string): Array<Record<string, unknown>> => {
    const database = new Database(Path.join(directory, "usage.db"), { readonly: true })
    try {
      return database.prepare(`select ${columns} from fluxen_usage`).all() as Array<Record<string, unknown>>
    } finally {
      database.close()
    }
  }

  const streamChat = () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    return client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      .then(async (stream) => {
        let text = ""
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
        return text
      })
  }

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await upstream?.close()
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
  })

  it("records a cut-off stream as cancelled", async () => {
    await start("1 second")
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 5_000 })
    const inFlight = streamChat().catch((error: unknown) => error)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const started = Date.now()
    const code = await stop()
    const elapsed = Date.now() - started

    expect(code).toBe(0)
    expect(elapsed).toBeLessThan(15_000)
    const failure = await inFlight
    expect(failure).toBeInstanceOf(OpenAI.APIError)
    expect((failure as InstanceType<typeof OpenAI.APIError>).code).toBe("shutting_down")
    expect((failure as Error).message).toContain("Fluxen is shutting down")
    expect(output).toContain("Shutdown deadline reached")
    expect(usageRows("status, http_status")).toEqual([{ status: "cancelled", http_status: 499 }])
    expect(output).toMatch(/Stop signal received; shutting down.*signal=SIGTERM/)
    // The last line reports the stop and the exit status.
    expect(output.trimEnd().split("\n").at(-1)).toMatch(/Fluxen stopped.*exit\.status=0/)
  }, 60_000)

  it("cut-off messages stream: error event", async () => {
    await start("1 second")
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 5_000 })
    const client = new Anthropic({ baseURL: url, apiKey: "client-key", maxRetries: 0 })
    const inFlight = client.messages
      .create({ model: "gpt-4o-mini", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] })
      .then(async (stream) => {
        for await (const _ of stream) continue
      })
      .catch((error: unknown) => error)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const code = await stop()
    const failure = await inFlight

    expect(code).toBe(0)
    expect(failure).toBeInstanceOf(Anthropic.APIError)
    expect((failure as InstanceType<typeof Anthropic.APIError>).type).toBe("api_error")
    expect((failure as Error).message).toContain("Fluxen is shutting down")
    expect(usageRows("status, http_status")).toEqual([{ status: "cancelled", http_status: 499 }])
  }, 60_000)

  it("cut-off JSON request: 503 in OpenAI's shape", async () => {
    await start("1 second")
    upstream.enqueue({ fixture: "openai/chat-completions/text.json", delayBeforeHeadersMs: 5_000 })
    const pending = fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    })
    await waitFor(async () => upstream.requests.length === 1, "the request to reach the upstream", () => output)

    const code = await stop()
    const response = await pending
    const body = (await response.json()) as { error: { code: string; type: string } }

    expect(code).toBe(0)
    expect(response.status).toBe(503)
    expect(body.error.code).toBe("shutting_down")
    expect(body.error.type).toBe("server_error")
  }, 60_000)

  it("estimates a stream ending during SIGTERM", async () => {
    await start("30 seconds")
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-no-usage.sse", writes: "per-event", delayMs: 40 })
    const inFlight = streamChat()
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const code = await stop()
    const text = await inFlight

    expect(code).toBe(0)
    expect(text.length).toBeGreaterThan(0)
    const [row] = usageRows("status, prompt_tokens, completion_tokens, usage_estimated, cost_usd")
    expect(row?.status).toBe("ok")
    expect(row?.usage_estimated).toBe(1)
    expect(row?.prompt_tokens).toBeGreaterThan(0)
    expect(row?.completion_tokens).toBeGreaterThan(0)
    expect(row?.cost_usd).toBeGreaterThan(0)
    expect(output).not.toContain("Uncaught")
  }, 60_000)

  it("lost usage records: exit status 1", async () => {
    await start("1 second")
    // Another connection holds the database locked, so no insert can succeed until shutdown gives up.
    const blocker = new Database(Path.join(directory, "usage.db"))
    try {
      blocker.exec("BEGIN EXCLUSIVE")
      upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
      await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })

      expect(await stop()).toBe(1)
      expect(output).toContain("Usage records were lost")
    } finally {
      blocker.close()
    }
  }, 90_000)

  it("second SIGTERM stops at once", async () => {
    // A stream that takes about a minute keeps the drain waiting, for up to 30 seconds.
    await start("30 seconds")
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 5_000 })
    const inFlight = streamChat().catch((error: unknown) => error)
    await waitFor(async () => upstream.requests.length === 1, "the stream to start", () => output)

    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    // The log of this configuration is at the warning level, so the drain's start is not logged.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const started = Date.now()
    child.kill("SIGTERM")
    const code = await exited
    await inFlight

    expect(code).toBe(143)
    expect(Date.now() - started).toBeLessThan(5_000)
  }, 60_000)

  it("logs only logfmt lines, without colour", async () => {
    await start("1 second")
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    await stop()

    const lines = output.split("\n").filter((line) => line !== "")
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.filter((line) => !line.startsWith("timestamp="))).toEqual([])
    expect(output).not.toContain("\u001b[")
  }, 60_000)
})

describe("runtime on Deno: arguments", () => {
  it("rejects an invalid port before starting", async () => {
    const child = spawn(deno, [...denoRun, "start", "--port", "abc"], { cwd: repository, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)))

    expect(code).toBe(2)
    expect(output).toContain("--port needs a port number from 0 to 65535, got abc.")
  }, 60_000)
})
