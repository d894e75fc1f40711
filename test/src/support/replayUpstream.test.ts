import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from "node:http"
import { once } from "node:events"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { fixturesDir, loadFixture, splitEvents } from "./fixtures.js"
import { type ReplayUpstream, startReplayUpstream, type WritePattern } from "./replayUpstream.js"

interface Received {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** False when the connection ended before the response did. */
  readonly complete: boolean
  readonly elapsedToHeadersMs: number
  readonly elapsedMs: number
}

interface SendOptions {
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** Sends one request on a fresh connection and collects the whole response, complete or not. */
const send = (url: string, path: string, options: SendOptions = {}): Promise<Received> =>
  new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const req = httpRequest(`${url}${path}`, { method: options.method ?? "POST", headers: options.headers, agent: false }, (res) => {
      const elapsedToHeadersMs = performance.now() - startedAt
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      // An incomplete response also emits 'error' ("aborted"); 'close' reports it through `complete`.
      res.on("error", () => {})
      res.on("close", () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
          elapsedToHeadersMs,
          elapsedMs: performance.now() - startedAt
        })
      })
    })
    req.on("error", reject)
    req.end(options.body)
  })

/** Opens a streaming request and resolves once the response headers arrive. */
const openStream = (url: string, path: string): Promise<{ req: ClientRequest; res: IncomingMessage }> =>
  new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: "POST", agent: false }, (res) => {
      res.on("error", () => {})
      resolve({ req, res })
    })
    // Destroying the request on purpose raises "socket hang up" here.
    req.on("error", (error) => reject(error))
    req.end("{}")
  })

const waitUntil = async (condition: () => boolean, timeoutMs = 2000): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const listFixtures = (dir: URL, prefix = ""): Array<string> => {
  const found: Array<string> = []
  for (const name of readdirSync(dir).sort()) {
    const entry = new URL(name, dir)
    if (statSync(entry).isDirectory()) {
      found.push(...listFixtures(new URL(`${name}/`, dir), `${prefix}${name}/`))
    } else if (prefix !== "" && /\.(json|sse|chunks\.txt)$/.test(name)) {
      found.push(`${prefix}${name}`)
    }
  }
  return found
}

const rawFixture = (relPath: string): Buffer => readFileSync(new URL(relPath, fixturesDir))

const eventTexts = (body: Buffer): Array<string> =>
  splitEvents(body).map((range) => body.subarray(range.start, range.end).toString("utf8"))

const allFixtures = listFixtures(fixturesDir)

describe("fixtures", () => {
  it("resolves the shared fixtures folder", () => {
    expect(fileURLToPath(fixturesDir)).toMatch(/[/\\]shared[/\\]fixtures[/\\]$/)
    expect(existsSync(new URL("README.md", fixturesDir))).toBe(true)
    expect(allFixtures.length).toBeGreaterThanOrEqual(30)
  })

  it("takes status from error file names", () => {
    const notFound = loadFixture("openai/chat-completions/error-404-model-not-found.json")
    expect(notFound.status).toBe(404)
    expect(notFound.provider).toBe("openai")
    expect(notFound.contentType).toBe("application/json")
    expect(notFound.path).toBe("openai/chat-completions/error-404-model-not-found.json")

    const openRouter = loadFixture("openai-compatible/chat-completions/error-429-openrouter.json")
    expect(openRouter.status).toBe(429)
    expect(openRouter.provider).toBe("openai-compatible")

    expect(loadFixture("anthropic/messages/text.json").status).toBe(200)
  })

  it("keeps Gemini's stream error content type", () => {
    const fixture = loadFixture("gemini/stream-generate-content/error-400-api-key-invalid.json")
    expect(fixture.status).toBe(400)
    expect(fixture.contentType).toBe("text/event-stream")
    expect(JSON.parse(fixture.body.toString("utf8")).error.code).toBe(400)
    expect(loadFixture("gemini/generate-content/error-429-resource-exhausted.json").contentType).toBe("application/json")
  })

  it("serves .sse files byte for byte", () => {
    const fixture = loadFixture("openai/chat-completions/text-stream-usage.sse")
    expect(fixture.contentType).toBe("text/event-stream")
    expect(fixture.body.equals(rawFixture("openai/chat-completions/text-stream-usage.sse"))).toBe(true)
  })

  it("frames OpenAI chunks with [DONE]", () => {
    const path = "openai/completions/text-stream-usage.chunks.txt"
    const lines = rawFixture(path).toString("utf8").split("\n")
    const events = eventTexts(loadFixture(path).body)
    expect(events).toHaveLength(lines.length + 1)
    expect(events[0]).toBe(`data: ${lines[0]}\n\n`)
    expect(events.at(-1)).toBe("data: [DONE]\n\n")
  })

  it("frames chunks with a trailing newline", () => {
    const events = eventTexts(loadFixture("openai-compatible/chat-completions/mistral-tool-call-stream.chunks.txt").body)
    expect(events).toHaveLength(3)
    expect(events.some((event) => event === "data: \n\n")).toBe(false)
  })

  it("frames Anthropic chunks with event lines", () => {
    const fixture = loadFixture("anthropic/messages/text-stream.chunks.txt")
    expect(fixture.provider).toBe("anthropic")
    const events = eventTexts(fixture.body)
    expect(events).toHaveLength(12)
    for (const event of events) {
      const [eventLine, dataLine] = event.split("\n")
      const payload = JSON.parse(dataLine?.slice("data: ".length) ?? "")
      expect(eventLine).toBe(`event: ${payload.type}`)
    }
    expect(events.at(-1)).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n')
  })

  it("frames Gemini chunks with CRLF", () => {
    const body = loadFixture("gemini/stream-generate-content/thinking-signature-stream.chunks.txt").body
    const events = eventTexts(body)
    expect(events).toHaveLength(3)
    for (const event of events) {
      expect(event.startsWith("data: {")).toBe(true)
      expect(event.endsWith("}\r\n\r\n")).toBe(true)
    }
    expect(body.includes("[DONE]")).toBe(false)
  })

  it("terminates the unterminated Anthropic stream", () => {
    const path = "anthropic/messages/tool-use-stream.sse"
    const raw = rawFixture(path)
    expect(raw.subarray(-2).toString()).not.toBe("\n\n")

    const terminated = loadFixture(path).body
    expect(terminated.equals(Buffer.concat([raw, Buffer.from("\n\n")]))).toBe(true)
    expect(eventTexts(terminated)).toHaveLength(15)

    const untouched = loadFixture(path, { terminateLastEvent: false }).body
    expect(untouched.equals(raw)).toBe(true)
  })

  it("leaves terminated streams unchanged", () => {
    for (const path of allFixtures.filter((name) => name.endsWith(".sse") && !name.endsWith("tool-use-stream.sse"))) {
      expect(loadFixture(path).body.equals(rawFixture(path)), path).toBe(true)
    }
  })

  it("splitEvents covers the body", () => {
    for (const path of allFixtures) {
      const body = loadFixture(path).body
      const ranges = splitEvents(body)
      let expectedStart = 0
      for (const range of ranges) {
        expect(range.start, path).toBe(expectedStart)
        expect(range.end, path).toBeGreaterThan(range.start)
        expectedStart = range.end
      }
      expect(expectedStart, path).toBe(body.length)
    }
  })

  it("splitEvents counts fixture events", () => {
    expect(splitEvents(loadFixture("openai/chat-completions/text-stream-usage.sse").body)).toHaveLength(12)
    expect(splitEvents(loadFixture("openai/chat-completions/text-stream-no-usage.sse").body)).toHaveLength(51)
    expect(splitEvents(loadFixture("gemini/stream-generate-content/text-stream.sse").body)).toHaveLength(3)
    expect(splitEvents(loadFixture("openai/responses/text-stream.sse").body)).toHaveLength(18)
  })

  it("splitEvents handles every line ending", () => {
    const body = Buffer.from("data: a\r\rdata: b\r\n\r\ndata: c\n\ndata: d\n\r\ndata: tail")
    expect(eventTexts(body)).toEqual(["data: a\r\r", "data: b\r\n\r\n", "data: c\n\n", "data: d\n\r\n", "data: tail"])
  })

  it("rejects bad fixture paths", () => {
    expect(() => loadFixture("openai/chat-completions/missing.json")).toThrow(/Fixture not found/)
    expect(() => loadFixture("../fixtures/README.md")).toThrow(/relative to the fixtures folder/)
    expect(() => loadFixture("README.md")).toThrow(/provider folder/)
  })
})

describe("replay upstream", () => {
  let upstream: ReplayUpstream

  beforeEach(async () => {
    upstream = await startReplayUpstream()
  })

  afterEach(async () => {
    await upstream.close()
  })

  it("listens on 127.0.0.1", () => {
    expect(upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it("records the request", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const body = JSON.stringify({ model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }] })
    await send(upstream.url, "/v1/chat/completions?trace=1", {
      headers: { "Content-Type": "application/json", "X-Fluxen-Test": "Recorded" },
      body
    })

    expect(upstream.requests).toHaveLength(1)
    const recorded = upstream.requests[0]
    expect(recorded?.method).toBe("POST")
    expect(recorded?.path).toBe("/v1/chat/completions?trace=1")
    expect(recorded?.headers["x-fluxen-test"]).toBe("Recorded")
    expect(recorded?.headers["content-type"]).toBe("application/json")
    expect(recorded?.body).toBe(body)
    expect(recorded?.json).toEqual({ model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }] })
  })

  it("records non-JSON bodies", async () => {
    upstream.enqueue({ body: "{}" })
    upstream.enqueue({ body: "{}" })
    await send(upstream.url, "/v1/models", { method: "GET" })
    await send(upstream.url, "/v1/upload", { body: "not json" })

    expect(upstream.requests[0]?.method).toBe("GET")
    expect(upstream.requests[0]?.body).toBe("")
    expect(upstream.requests[0]?.json).toBeUndefined()
    expect(upstream.requests[1]?.body).toBe("not json")
    expect(upstream.requests[1]?.json).toBeUndefined()
  })

  it("answers in FIFO order", async () => {
    upstream.enqueue({ body: '{"n":1}' })
    upstream.enqueue({ body: '{"n":2}' })

    const first = await send(upstream.url, "/a")
    const second = await send(upstream.url, "/b")
    expect(first.body.toString()).toBe('{"n":1}')
    expect(second.body.toString()).toBe('{"n":2}')
  })

  it("returns 500 when the queue is empty", async () => {
    const received = await send(upstream.url, "/v1/messages?beta=true")
    expect(received.status).toBe(500)
    expect(received.headers["content-type"]).toBe("application/json")
    const error = JSON.parse(received.body.toString())
    expect(error.error.message).toContain("POST /v1/messages?beta=true")
    expect(upstream.requests).toHaveLength(1)
  })

  it("answers routes before the queue", async () => {
    upstream.route("/v1/models", { body: '{"data":[]}' })
    upstream.enqueue({ body: '{"queued":true}' })

    const routed = await send(upstream.url, "/v1/models?limit=5", { method: "GET" })
    const routedAgain = await send(upstream.url, "/v1/models", { method: "GET" })
    const queued = await send(upstream.url, "/v1/chat/completions")
    expect(routed.body.toString()).toBe('{"data":[]}')
    expect(routedAgain.body.toString()).toBe('{"data":[]}')
    expect(queued.body.toString()).toBe('{"queued":true}')
  })

  it("serves explicit status, headers and body", async () => {
    upstream.enqueue({ status: 503, headers: { "Retry-After": "2", "content-type": "text/plain" }, body: "overloaded" })
    const received = await send(upstream.url, "/x")
    expect(received.status).toBe(503)
    expect(received.headers["retry-after"]).toBe("2")
    expect(received.headers["content-type"]).toBe("text/plain")
    expect(received.headers["content-length"]).toBe("10")
    expect(received.body.toString()).toBe("overloaded")
  })

  it("lets a reply override the fixture status", async () => {
    upstream.enqueue({ fixture: "openai/chat-completions/text.json", status: 202 })
    const received = await send(upstream.url, "/x")
    expect(received.status).toBe(202)
    expect(received.body.equals(loadFixture("openai/chat-completions/text.json").body)).toBe(true)
  })

  it("rejects invalid replies", () => {
    expect(() => upstream.enqueue({ fixture: "openai/chat-completions/text.json", body: "{}" })).toThrow(/both fixture/)
    expect(() => upstream.enqueue({ body: "x", writes: { bytes: 0 } })).toThrow(/writes.bytes/)
    expect(() => upstream.enqueue({ body: "x", stopAfterWrites: 1, hangAfterWrites: 1 })).toThrow(/stopAfterWrites and hangAfterWrites/)
    expect(() => upstream.enqueue({ body: "x", delayMs: -1 })).toThrow(/delayMs/)
    expect(() => upstream.enqueue({ fixture: "openai/nope.json" })).toThrow(/Fixture not found/)
  })

  it("pauses between writes", async () => {
    const fixture = "gemini/stream-generate-content/text-stream.sse"
    upstream.enqueue({ fixture, writes: "per-event", delayMs: 40 })
    const received = await send(upstream.url, "/stream")
    // Three events make three writes with two pauses between them.
    expect(received.elapsedMs - received.elapsedToHeadersMs).toBeGreaterThanOrEqual(75)
    expect(received.body.equals(loadFixture(fixture).body)).toBe(true)
  })

  it("delays the headers", async () => {
    upstream.enqueue({ body: "{}", delayBeforeHeadersMs: 60 })
    const received = await send(upstream.url, "/slow")
    expect(received.elapsedToHeadersMs).toBeGreaterThanOrEqual(55)
  })
})

describe("replay upstream write patterns", () => {
  let upstream: ReplayUpstream

  beforeAll(async () => {
    upstream = await startReplayUpstream()
  })

  afterAll(async () => {
    await upstream.close()
  })

  const patterns: Array<WritePattern> = ["single", "per-event", { bytes: 1 }, { bytes: 7 }, { bytes: 64 }]

  describe.each(allFixtures)("%s", (path) => {
    const fixture = loadFixture(path)
    const isStream = fixture.contentType === "text/event-stream"

    it.each(patterns.map((pattern) => [JSON.stringify(pattern), pattern] as const))("replays %s", async (_, writes) => {
      upstream.enqueue({ fixture: path, writes })
      const received = await send(upstream.url, "/replay")

      expect(received.complete).toBe(true)
      expect(received.status).toBe(fixture.status)
      expect(received.headers["content-type"]).toBe(fixture.contentType)
      if (isStream) {
        expect(received.headers["transfer-encoding"]).toBe("chunked")
        expect(received.headers["content-length"]).toBeUndefined()
      } else {
        expect(received.headers["content-length"]).toBe(String(fixture.body.length))
      }
      expect(received.body.equals(fixture.body)).toBe(true)
    })
  })
})

describe("replay upstream failures", () => {
  let upstream: ReplayUpstream

  beforeEach(async () => {
    upstream = await startReplayUpstream()
  })

  afterEach(async () => {
    await upstream.close()
  })

  const streamPath = "openai/chat-completions/text-stream-usage.sse"

  it("stopAfterWrites cuts the stream", async () => {
    upstream.enqueue({ fixture: streamPath, writes: "per-event", stopAfterWrites: 2 })
    const received = await send(upstream.url, "/v1/chat/completions")

    expect(received.status).toBe(200)
    expect(received.complete).toBe(false)
    const events = eventTexts(loadFixture(streamPath).body)
    expect(received.body.toString("utf8")).toBe(events.slice(0, 2).join(""))
    await expect(upstream.waitForAbort(0, 100)).rejects.toThrow(/ended the connection itself/)
  })

  it("stopAfterWrites 0 sends only headers", async () => {
    upstream.enqueue({ fixture: streamPath, stopAfterWrites: 0 })
    const received = await send(upstream.url, "/v1/chat/completions")
    expect(received.status).toBe(200)
    expect(received.complete).toBe(false)
    expect(received.body).toHaveLength(0)
  })

  it("stopAfterWrites after the last write", async () => {
    const fixture = loadFixture(streamPath)
    upstream.enqueue({ fixture: streamPath, writes: "single", stopAfterWrites: 1 })
    const received = await send(upstream.url, "/v1/chat/completions")
    // Every byte arrives, but the chunked body never gets its final chunk.
    expect(received.body.equals(fixture.body)).toBe(true)
    expect(received.complete).toBe(false)
  })

  it("stops a JSON body short of its length", async () => {
    upstream.enqueue({ fixture: "openai/embeddings/float.json", writes: { bytes: 1024 }, stopAfterWrites: 3 })
    const received = await send(upstream.url, "/v1/embeddings")
    expect(received.complete).toBe(false)
    expect(received.body).toHaveLength(3 * 1024)
  })

  it("hangAfterWrites keeps the socket open", async () => {
    upstream.enqueue({ fixture: streamPath, writes: "per-event", hangAfterWrites: 3 })
    const { req, res } = await openStream(upstream.url, "/v1/chat/completions")

    const expected = eventTexts(loadFixture(streamPath).body).slice(0, 3).join("")
    let received = ""
    res.setEncoding("utf8")
    res.on("data", (text: string) => {
      received += text
    })
    await waitUntil(() => received.length >= expected.length)
    expect(received).toBe(expected)

    // Nothing more arrives and the connection stays open.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(received).toBe(expected)
    expect(res.complete).toBe(false)
    expect(upstream.openSockets).toBe(1)

    req.destroy()
    await upstream.waitForAbort(0, 2000)
    await waitUntil(() => upstream.openSockets === 0)
  })

  it("waitForAbort sees a client abort mid-stream", async () => {
    upstream.enqueue({ fixture: streamPath, writes: "per-event", delayMs: 50 })
    const abort = upstream.waitForAbort(0, 2000)
    const { req, res } = await openStream(upstream.url, "/v1/chat/completions")

    const [firstChunk] = (await once(res, "data")) as [Buffer]
    expect(firstChunk.toString("utf8").startsWith("data: {")).toBe(true)
    req.destroy()

    await expect(abort).resolves.toBeUndefined()
    expect(upstream.requests).toHaveLength(1)
  })

  it("waitForAbort rejects after a finished response", async () => {
    upstream.enqueue({ fixture: streamPath })
    await send(upstream.url, "/v1/chat/completions")
    await expect(upstream.waitForAbort(0, 1000)).rejects.toThrow(/finished normally/)
  })

  it("waitForAbort times out", async () => {
    await expect(upstream.waitForAbort(4, 30)).rejects.toThrow(/after 30 ms .* request 4, and the request has not arrived/)
  })

  it("close ends open connections", async () => {
    upstream.enqueue({ fixture: streamPath, hangAfterWrites: 1 })
    const { res } = await openStream(upstream.url, "/v1/chat/completions")
    // events.once would reject on the "aborted" error that precedes 'close'.
    const closed = new Promise((resolve) => res.once("close", resolve))
    expect(upstream.openSockets).toBe(1)

    const started = performance.now()
    await upstream.close()
    expect(performance.now() - started).toBeLessThan(1000)
    expect(upstream.openSockets).toBe(0)
    await closed
    expect(res.complete).toBe(false)
  })

  it("close cancels pending delays", async () => {
    upstream.enqueue({ body: "{}", delayBeforeHeadersMs: 10_000 })
    const pending = send(upstream.url, "/slow").catch((error: Error) => error)
    await waitUntil(() => upstream.requests.length === 1)

    const started = performance.now()
    await upstream.close()
    expect(performance.now() - started).toBeLessThan(1000)
    // The client sees the connection drop before any response.
    expect(await pending).toBeInstanceOf(Error)
  })
})
