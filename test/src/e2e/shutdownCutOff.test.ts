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
import * as Net from "node:net"
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

/** One response read off a raw socket. Header names are in lower case, and the body is decoded as UTF-8. */
interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Parses the HTTP/1.1 responses that a client read one after another on a connection, each with
 * a `content-length` or a chunked body. `raw` is decoded as Latin-1, so that one character is one byte.
 */
const parseResponses = (raw: string): Array<RawResponse> => {
  const responses: Array<RawResponse> = []
  let offset = 0
  while (offset < raw.length) {
    const headEnd = raw.indexOf("\r\n\r\n", offset)
    if (headEnd === -1) throw new Error(`The response head at byte ${offset} is incomplete:\n${raw}`)
    const [statusLine = "", ...lines] = raw.slice(offset, headEnd).split("\r\n")
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    offset = headEnd + 4

    let body = ""
    if (headers["transfer-encoding"] === "chunked") {
      while (true) {
        const sizeEnd = raw.indexOf("\r\n", offset)
        if (sizeEnd === -1) throw new Error(`The chunked body at byte ${offset} ends before its last chunk:\n${raw}`)
        const size = Number.parseInt(raw.slice(offset, sizeEnd), 16)
        offset = sizeEnd + 2
        body += raw.slice(offset, offset + size)
        offset += size + 2
        if (size === 0) break
      }
    } else {
      const length = Number(headers["content-length"] ?? 0)
      body = raw.slice(offset, offset + length)
      offset += length
    }
    responses.push({ status: Number(statusLine.split(" ")[1]), headers, body: Buffer.from(body, "latin1").toString("utf8") })
  }
  return responses
}

/** Returns a POST request for `path` with a JSON body, as text ready to be written to a socket. */
const rawRequest = (path: string, body: unknown): string => {
  const json = JSON.stringify(body)
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`
}

/** Opens a connection for the test to write requests on, and collects what it reads until the connection closes. */
const openRawConnection = (url: string) => {
  const { hostname, port } = new URL(url)
  const socket = Net.connect(Number(port), hostname)
  socket.setEncoding("latin1")
  let received = ""
  socket.on("data", (chunk: string) => (received += chunk))
  const closed = new Promise<string>((resolve, reject) => {
    socket.once("error", reject)
    socket.once("close", () => resolve(received))
  })
  return { socket, received: () => received, closed }
}

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

  it("pipelined requests: 503 each", async () => {
    upstream.route("/v1/chat/completions", { fixture: "openai/chat-completions/text.json", delayBeforeHeadersMs: 5_000 })
    upstream.route("/v1/messages", { fixture: "anthropic/messages/text.json", delayBeforeHeadersMs: 5_000 })
    const connection = openRawConnection(url)
    // One write, so that the second request arrives before the first response starts.
    connection.socket.write(
      rawRequest("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) +
        rawRequest("/v1/messages", { model: "claude-sonnet-4", max_tokens: 256, messages: [{ role: "user", content: "hi" }] })
    )
    await waitFor(async () => upstream.requests.length === 2, "both requests to reach the upstream", () => output)

    const code = await stop()
    const responses = parseResponses(await connection.closed)

    expect(code).toBe(0)
    expect(responses).toHaveLength(2)
    const [chat, messages] = responses
    expect(chat?.status).toBe(503)
    expect(JSON.parse(chat!.body)).toEqual({
      error: {
        message: "Fluxen is shutting down and stopped this request before it finished. Send it again.",
        type: "server_error",
        param: null,
        code: "shutting_down"
      }
    })
    // The connection stays open for the second response, which then closes it.
    expect(chat?.headers["connection"]).toBe("keep-alive")
    expect(messages?.status).toBe(503)
    expect(messages?.headers["connection"]).toBe("close")

    const rows = usageRows()
    expect(rows.map((row) => [row.endpoint, row.status, row.http_status])).toEqual([
      ["chat", "cancelled", 499],
      ["messages", "cancelled", 499]
    ])
    expect(chat?.headers["x-request-id"]).toBe(rows[0]!.request_id)
    expect(JSON.parse(messages!.body)).toEqual({
      type: "error",
      error: { type: "api_error", message: "Fluxen is shutting down and stopped this request before it finished. Send it again." },
      request_id: rows[1]!.request_id
    })
  }, 60_000)

  it("pipelined behind stream: event, 503", async () => {
    // Three events, the second with text, then an upstream that sends nothing more.
    upstream.route("/v1/chat/completions", {
      fixture: "openai/chat-completions/text-stream-usage.sse",
      writes: "per-event",
      delayMs: 20,
      hangAfterWrites: 3
    })
    upstream.route("/v1/messages", { fixture: "anthropic/messages/text.json", delayBeforeHeadersMs: 5_000 })
    const connection = openRawConnection(url)
    connection.socket.write(
      rawRequest("/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }) +
        rawRequest("/v1/messages", { model: "claude-sonnet-4", max_tokens: 256, messages: [{ role: "user", content: "hi" }] })
    )
    await waitFor(async () => upstream.requests.length === 2, "both requests to reach the upstream", () => output)
    await waitFor(async () => connection.received().includes("data: "), "the stream's first event", () => output)

    const code = await stop()
    const responses = parseResponses(await connection.closed)

    expect(code).toBe(0)
    expect(responses).toHaveLength(2)
    const [chat, messages] = responses
    expect(chat?.status).toBe(200)
    expect(chat?.headers["content-type"]).toContain("text/event-stream")
    const events = chat!.body.split("\n\n").filter((event) => event !== "")
    expect(events.length).toBeGreaterThan(1)
    expect(events.at(-1)).toContain('"code":"shutting_down"')
    expect(messages?.status).toBe(503)
    expect(messages?.headers["connection"]).toBe("close")
    expect(JSON.parse(messages!.body)).toMatchObject({ type: "error", error: { type: "api_error" } })

    const rows = usageRows()
    expect(rows.map((row) => [row.endpoint, row.status, row.http_status])).toEqual([
      ["chat", "cancelled", 499],
      ["messages", "cancelled", 499]
    ])
  }, 60_000)
})
