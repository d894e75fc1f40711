/**
 * Requests still running at the shutdown deadline, through Fluxen started as
 * the container starts it. A request whose response had not started gets a
 * 503 in its route's error shape. A stream gets a last error event in its
 * route's stream format, so that the SDKs raise an API error naming the
 * shutdown instead of a bare connection failure. Both are recorded as
 * cancelled with the usage seen so far.
 */
import Anthropic from "@anthropic-ai/sdk"
import Database from "better-sqlite3"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import OpenAI from "openai"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { freePort } from "../support/freePort.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { cli } from "../support/runStart.js"
import { waitFor } from "../support/waitFor.js"

/** The recording's `message_start`: 11 uncached input tokens and 1,031 read from the cache. */
const ANTHROPIC_PROMPT_TOKENS = 11 + 1031

const configText = (port: number, upstreamUrl: string) => `server: { host: 127.0.0.1, port: ${port}, shutdownTimeout: 1 second }
usage: { sqlitePath: ./usage.db, flushInterval: 50 }
logging: { level: info }
providers:
  openai:
    use: "@fluxen/provider-openai"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "sk-test-upstream-key" }
  anthropic:
    use: "@fluxen/provider-anthropic"
    config: { baseUrl: "${upstreamUrl}/v1", apiKey: "sk-ant-test-upstream-key" }
models:
  gpt-4o-mini: { provider: openai, model: gpt-4o-mini-2024-07-18 }
  claude-sonnet-4: { provider: anthropic, model: claude-sonnet-4-20250514 }
plugins:
  - use: "@fluxen/analyzer"
`

/** Reads the events still on the way and returns the error that ends the stream. */
const errorAfterEvents = (iterator: AsyncIterator<unknown>): Promise<unknown> =>
  (async () => {
    while (!(await iterator.next()).done) continue
  })().then(
    () => "the stream ended without an error",
    (error: unknown) => error
  )

interface UsageRow {
  readonly request_id: string
  readonly endpoint: string
  readonly status: string
  readonly http_status: number
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly usage_estimated: number
}

describe("requests cut off at shutdown", () => {
  let upstream: ReplayUpstream
  let child: ChildProcess
  let directory: string
  let url: string
  let output = ""

  beforeEach(async () => {
    upstream = await startReplayUpstream()
    directory = mkdtempSync(Path.join(tmpdir(), "fluxen-shutdown-cut-off-"))
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    output = ""
    const configPath = Path.join(directory, "fluxen.yaml")
    writeFileSync(configPath, configText(port, upstream.url))
    child = spawn(process.execPath, [cli, "start", "--config", configPath], { cwd: directory, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, "the gateway to start", () => output)
  })

  afterEach(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await upstream.close()
    rmSync(directory, { recursive: true, force: true })
  })

  const stop = async (): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    return exited
  }

  const usageRows = (): Array<UsageRow> => {
    const database = new Database(Path.join(directory, "usage.db"), { readonly: true })
    try {
      const columns = "request_id, endpoint, status, http_status, prompt_tokens, completion_tokens, usage_estimated"
      return database.prepare(`select ${columns} from fluxen_usage order by endpoint`).all() as Array<UsageRow>
    } finally {
      database.close()
    }
  }

  it("OpenAI stream: error event", async () => {
    // Three events, the second with text, then an upstream that sends nothing more.
    upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse", writes: "per-event", delayMs: 20, hangAfterWrites: 3 })
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })
    const iterator = stream[Symbol.asyncIterator]()
    let text = ""
    while (text === "") {
      const next = await iterator.next()
      if (next.done === true) throw new Error("The stream ended before the shutdown")
      text += next.value.choices[0]?.delta.content ?? ""
    }

    const code = await stop()
    const failure = await errorAfterEvents(iterator)

    expect(code).toBe(0)
    expect(failure).toBeInstanceOf(OpenAI.APIError)
    const error = failure as InstanceType<typeof OpenAI.APIError>
    expect(error.message).toContain("Fluxen is shutting down")
    expect(error.code).toBe("shutting_down")
    expect(error.type).toBe("server_error")
    expect(output).toContain("Shutdown deadline reached")

    const [row] = usageRows()
    expect(row?.status).toBe("cancelled")
    expect(row?.http_status).toBe(499)
    // The usage chunk never came, so the analyzer estimated both sides from the request and the text sent.
    expect(row?.prompt_tokens).toBeGreaterThan(0)
    expect(row?.completion_tokens).toBeGreaterThan(0)
    expect(row?.usage_estimated).toBe(1)
  }, 60_000)

  it("Anthropic stream: error event", async () => {
    upstream.enqueue({ fixture: "anthropic/messages/cache-read-stream.sse", writes: "per-event", delayMs: 5_000 })
    const client = new Anthropic({ baseURL: url, apiKey: "client-key", maxRetries: 0 })
    const stream = await client.messages.create({
      model: "claude-sonnet-4",
      max_tokens: 256,
      stream: true,
      messages: [{ role: "user", content: "Tell me a story." }]
    })
    const iterator = stream[Symbol.asyncIterator]()
    const first = await iterator.next()
    expect(first.value?.type).toBe("message_start")

    const code = await stop()
    const failure = await errorAfterEvents(iterator)

    expect(code).toBe(0)
    expect(failure).toBeInstanceOf(Anthropic.APIError)
    const error = failure as InstanceType<typeof Anthropic.APIError>
    expect(error.message).toContain("Fluxen is shutting down")
    expect(error.type).toBe("api_error")

    const [row] = usageRows()
    expect(row?.endpoint).toBe("messages")
    expect(row?.status).toBe("cancelled")
    expect(row?.http_status).toBe(499)
    expect(row?.prompt_tokens).toBe(ANTHROPIC_PROMPT_TOKENS)
  }, 60_000)

  it("unstarted responses: 503 per route", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json", delayBeforeHeadersMs: 5_000 })
    upstream.enqueue({ fixture: "anthropic/messages/cache-read-stream.sse", delayBeforeHeadersMs: 5_000 })
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", maxRetries: 0 })
    const anthropic = new Anthropic({ baseURL: url, apiKey: "client-key", maxRetries: 0 })
    const chat = openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((error: unknown) => error)
    const messages = anthropic.messages
      .create({ model: "claude-sonnet-4", max_tokens: 256, stream: true, messages: [{ role: "user", content: "hi" }] })
      .catch((error: unknown) => error)
    await waitFor(async () => upstream.requests.length === 2, "both requests to reach the upstream", () => output)

    const code = await stop()
    const chatFailure = await chat
    const messagesFailure = await messages

    expect(code).toBe(0)
    expect(chatFailure).toBeInstanceOf(OpenAI.APIError)
    const chatError = chatFailure as InstanceType<typeof OpenAI.APIError>
    expect(chatError.status).toBe(503)
    expect(chatError.error).toEqual({
      message: "Fluxen is shutting down and stopped this request before it finished. Send it again.",
      type: "server_error",
      param: null,
      code: "shutting_down"
    })

    expect(messagesFailure).toBeInstanceOf(Anthropic.APIError)
    const messagesError = messagesFailure as InstanceType<typeof Anthropic.APIError>
    expect(messagesError.status).toBe(503)
    const rows = usageRows()
    expect(rows.map((row) => [row.endpoint, row.status, row.http_status])).toEqual([
      ["chat", "cancelled", 499],
      ["messages", "cancelled", 499]
    ])
    // The 503s carry the id of the record, as every other response of Fluxen does.
    expect(chatError.requestID).toBe(rows[0]!.request_id)
    expect(messagesError.requestID).toBe(rows[1]!.request_id)
    expect(messagesError.error).toEqual({
      type: "error",
      error: { type: "api_error", message: "Fluxen is shutting down and stopped this request before it finished. Send it again." },
      request_id: rows[1]!.request_id
    })
  }, 60_000)
})
