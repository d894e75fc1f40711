/**
 * A local HTTP server that plays the LLM provider in gateway tests. It
 * replays recorded responses from the fixtures folder, or explicit bodies,
 * with a chosen write pattern, and records every request it receives.
 */
import { createServer, type IncomingMessage, type ServerResponse, validateHeaderName, validateHeaderValue } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { loadFixture, splitEvents } from "./fixtures.js"

export interface RecordedRequest {
  readonly method: string
  /** Request target as received: the path with its query string. */
  readonly path: string
  /** Header names in lower case. Repeated headers are joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  /** The body decoded as UTF-8. */
  readonly body: string
  /** The body parsed as JSON, or undefined when it is empty or not valid JSON. */
  readonly json: unknown
  /** `Date.now()` when the body was complete. */
  readonly receivedAt: number
}

/**
 * How the body is cut into network writes. "per-event" writes one SSE event at
 * a time, and a body that is not `text/event-stream` as a single write.
 */
export type WritePattern = "single" | "per-event" | { readonly bytes: number }

export interface Reply {
  /** Path under the fixtures folder. The status and content type come from the fixture unless set below. */
  readonly fixture?: string
  /** Passed to `loadFixture`: ends an `.sse` body that lost its final blank line. Default true. */
  readonly terminateLastEvent?: boolean
  /** Overrides the fixture's status. Default 200 without a fixture. */
  readonly status?: number
  /** Added to the response headers, replacing those of the same name. The content type defaults to application/json without a fixture. */
  readonly headers?: Record<string, string>
  /** An explicit body, used instead of a fixture. */
  readonly body?: string | Buffer
  /** Write pattern, default "per-event". */
  readonly writes?: WritePattern
  /** Pause between writes, in milliseconds. */
  readonly delayMs?: number
  /** Wait before sending the status line and headers, in milliseconds. */
  readonly delayBeforeHeadersMs?: number
  /**
   * Ends the connection after this many writes without finishing the response,
   * as an upstream that dies mid-stream. The written bytes are flushed first.
   */
  readonly stopAfterWrites?: number
  /** Stops writing after this many writes and keeps the connection open, as an idle upstream. */
  readonly hangAfterWrites?: number
}

export interface ReplayUpstream {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  readonly url: string
  /**
   * Every request received, in the order their bodies completed. A request
   * whose client disconnects before the body is complete is not recorded.
   */
  readonly requests: Array<RecordedRequest>
  /**
   * Queues the reply for the next request that no route matches (FIFO). When
   * the queue is empty, the request gets a 500 with a JSON error naming its path.
   */
  enqueue(reply: Reply): void
  /** Serves `reply` to every request whose path, without the query string, equals `path`. Routes take precedence over the queue. */
  route(path: string, reply: Reply): void
  /** Removes the standing reply of `path`. */
  unroute(path: string): void
  /** Closes the server and destroys all open connections. */
  close(): Promise<void>
  /**
   * Resolves when the client closes the connection of request `requestIndex`
   * (0-based, as in `requests`) before its response finished. Rejects at once
   * when that response finished or the upstream ended it itself, and after
   * `timeoutMs` (default 5000) otherwise.
   */
  waitForAbort(requestIndex: number, timeoutMs?: number): Promise<void>
  /** Number of TCP connections currently open. */
  readonly openSockets: number
}

/** How the exchange for one request ended. */
type Outcome = "finished" | "client-aborted" | "upstream-stopped" | "upstream-closed"

interface Exchange {
  outcome: Outcome | undefined
  readonly waiters: Array<(outcome: Outcome) => void>
}

interface PreparedReply {
  readonly status: number
  readonly headers: Record<string, string | number>
  readonly writes: ReadonlyArray<Buffer>
  readonly delayMs: number
  readonly delayBeforeHeadersMs: number
  readonly stopAfterWrites: number | undefined
  readonly hangAfterWrites: number | undefined
}

const DEFAULT_ABORT_TIMEOUT_MS = 5000

/** Starts a replaying upstream on 127.0.0.1 with a free port. */
export const startReplayUpstream = async (): Promise<ReplayUpstream> => {
  const requests: Array<RecordedRequest> = []
  const queue: Array<PreparedReply> = []
  const routes = new Map<string, PreparedReply>()
  const exchanges = new Map<number, Exchange>()
  const sockets = new Set<Socket>()
  // Cancels pending delays when the server closes.
  const shutdown = new AbortController()
  let closing: Promise<void> | undefined

  const exchangeAt = (index: number): Exchange => {
    let exchange = exchanges.get(index)
    if (exchange === undefined) {
      exchange = { outcome: undefined, waiters: [] }
      exchanges.set(index, exchange)
    }
    return exchange
  }

  const settle = (index: number, outcome: Outcome): void => {
    const exchange = exchangeAt(index)
    if (exchange.outcome !== undefined) return
    exchange.outcome = outcome
    for (const waiter of exchange.waiters.splice(0)) waiter(outcome)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A client that goes away makes writes fail. That is an outcome the
    // 'close' listener records, not an error of the server.
    res.on("error", () => {})

    let body: Buffer
    try {
      body = await readBody(req)
    } catch {
      return
    }

    const index = requests.length
    const path = req.url ?? "/"
    requests.push(recordRequest(req, path, body))

    let stoppedByUpstream = false
    res.once("close", () => {
      if (res.writableFinished) settle(index, "finished")
      else if (stoppedByUpstream) settle(index, "upstream-stopped")
      else if (shutdown.signal.aborted) settle(index, "upstream-closed")
      else settle(index, "client-aborted")
    })
    // The 'close' event may have fired while the body was read to its end.
    if (res.destroyed) settle(index, shutdown.signal.aborted ? "upstream-closed" : "client-aborted")

    const pathname = path.split("?", 1)[0] ?? path
    const reply = routes.get(pathname) ?? queue.shift() ?? missingReply(req.method ?? "GET", path)

    try {
      await serve(res, reply, shutdown.signal, () => {
        stoppedByUpstream = true
      })
    } catch (error) {
      // Pending delays are cancelled when the server closes.
      if (shutdown.signal.aborted) return
      throw error
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res)
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (reply) => {
      queue.push(prepareReply(reply))
    },
    route: (path, reply) => {
      routes.set(path, prepareReply(reply))
    },
    unroute: (path) => {
      routes.delete(path)
    },
    close: () => {
      closing ??= (async () => {
        shutdown.abort()
        const serverClosed = new Promise<void>((resolve, reject) => {
          server.close((error) => (error === undefined ? resolve() : reject(error)))
        })
        // The server reports closed before the destroyed sockets emit 'close',
        // so each socket is awaited too, which leaves openSockets at 0.
        const socketsClosed = [...sockets].map((socket) => {
          const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
          socket.destroy()
          return closed
        })
        await Promise.all([serverClosed, ...socketsClosed])
      })()
      return closing
    },
    waitForAbort: (requestIndex, timeoutMs = DEFAULT_ABORT_TIMEOUT_MS) =>
      new Promise<void>((resolve, reject) => {
        const exchange = exchangeAt(requestIndex)
        const conclude = (outcome: Outcome): void => {
          if (outcome === "client-aborted") resolve()
          else reject(new Error(`Request ${requestIndex} was not aborted by the client, because ${describeOutcome(outcome)}`))
        }
        if (exchange.outcome !== undefined) {
          conclude(exchange.outcome)
          return
        }
        const timer = setTimeout(() => {
          const state = requestIndex < requests.length ? "its response is still open" : "the request has not arrived"
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for the client to abort request ${requestIndex}, and ${state}`))
        }, timeoutMs)
        exchange.waiters.push((outcome) => {
          clearTimeout(timer)
          conclude(outcome)
        })
      }),
    get openSockets() {
      return sockets.size
    }
  }
}

const serve = async (
  res: ServerResponse,
  reply: PreparedReply,
  signal: AbortSignal,
  markStopped: () => void
): Promise<void> => {
  if (reply.delayBeforeHeadersMs > 0) await sleep(reply.delayBeforeHeadersMs, undefined, { signal })
  if (res.destroyed) return

  res.writeHead(reply.status, reply.headers)
  // Sends the headers now, so a client sees them before the first write or a hang.
  res.flushHeaders()

  const writes = reply.writes
  for (let i = 0; i <= writes.length; i++) {
    if (i === reply.stopAfterWrites) {
      markStopped()
      endConnection(res)
      return
    }
    if (i === reply.hangAfterWrites) return
    if (i === writes.length) break

    if (i > 0 && reply.delayMs > 0) await sleep(reply.delayMs, undefined, { signal })
    if (res.destroyed) return
    await writeChunk(res, writes[i]!)
  }

  if (!res.destroyed) res.end()
}

// Resolves once the chunk is handed to the socket, or once the response closes.
// Waiting per write keeps each write a separate socket write.
const writeChunk = (res: ServerResponse, chunk: Buffer): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      res.off("close", done)
      resolve()
    }
    res.once("close", done)
    res.write(chunk, done)
  })

// Ends the TCP connection without finishing the HTTP response. `end` flushes
// the bytes already written before the FIN, so the client receives exactly them.
const endConnection = (res: ServerResponse): void => {
  const socket = res.socket
  if (socket === null) {
    res.destroy()
    return
  }
  socket.end(() => socket.destroy())
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const recordRequest = (req: IncomingMessage, path: string, body: Buffer): RecordedRequest => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value
  }
  const text = body.toString("utf8")
  return { method: req.method ?? "GET", path, headers, body: text, json: parseJson(text), receivedAt: Date.now() }
}

const parseJson = (text: string): unknown => {
  if (text.trim() === "") return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

const missingReply = (method: string, path: string): PreparedReply => {
  const body = Buffer.from(
    JSON.stringify({
      error: {
        message: `Replay upstream has no reply for ${method} ${path}: enqueue or route a reply before sending the request`,
        type: "replay_upstream_error"
      }
    })
  )
  return {
    status: 500,
    headers: { "content-type": "application/json", "content-length": body.length },
    writes: [body],
    delayMs: 0,
    delayBeforeHeadersMs: 0,
    stopAfterWrites: undefined,
    hangAfterWrites: undefined
  }
}

// Validates a reply and cuts its body into writes, so a mistake fails the
// test at the enqueue call and not inside the server.
const prepareReply = (reply: Reply): PreparedReply => {
  if (reply.fixture !== undefined && reply.body !== undefined) {
    throw new Error(`Reply sets both fixture (${reply.fixture}) and body. Set only one of them.`)
  }
  if (reply.stopAfterWrites !== undefined && reply.hangAfterWrites !== undefined) {
    throw new Error("Reply sets both stopAfterWrites and hangAfterWrites. Set only one of them.")
  }
  const delayMs = requireCount("delayMs", reply.delayMs ?? 0)
  const delayBeforeHeadersMs = requireCount("delayBeforeHeadersMs", reply.delayBeforeHeadersMs ?? 0)
  const stopAfterWrites = reply.stopAfterWrites === undefined ? undefined : requireCount("stopAfterWrites", reply.stopAfterWrites)
  const hangAfterWrites = reply.hangAfterWrites === undefined ? undefined : requireCount("hangAfterWrites", reply.hangAfterWrites)

  const fixture =
    reply.fixture === undefined
      ? undefined
      : loadFixture(reply.fixture, reply.terminateLastEvent === undefined ? undefined : { terminateLastEvent: reply.terminateLastEvent })
  const status = reply.status ?? fixture?.status ?? 200
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new Error(`Reply status must be an integer from 100 to 999, got ${status}`)
  }
  const body = reply.body === undefined ? (fixture?.body ?? Buffer.alloc(0)) : Buffer.from(reply.body)

  const headers: Record<string, string | number> = { "content-type": fixture?.contentType ?? "application/json" }
  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    validateHeaderName(name)
    validateHeaderValue(name, value)
    headers[name.toLowerCase()] = value
  }

  // Streams go out with chunked transfer encoding, other bodies with a length.
  const isEventStream = String(headers["content-type"]).toLowerCase().startsWith("text/event-stream")
  if (!isEventStream && headers["content-length"] === undefined && headers["transfer-encoding"] === undefined) {
    headers["content-length"] = body.length
  }

  return {
    status,
    headers,
    writes: planWrites(body, reply.writes ?? "per-event", isEventStream),
    delayMs,
    delayBeforeHeadersMs,
    stopAfterWrites,
    hangAfterWrites
  }
}

const planWrites = (body: Buffer, pattern: WritePattern, isEventStream: boolean): Array<Buffer> => {
  if (body.length === 0) return []
  if (pattern === "single") return [body]
  if (pattern === "per-event") {
    return isEventStream ? splitEvents(body).map((range) => body.subarray(range.start, range.end)) : [body]
  }
  const size = pattern.bytes
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`Reply writes.bytes must be a positive integer, got ${size}`)
  }
  const slices: Array<Buffer> = []
  for (let start = 0; start < body.length; start += size) slices.push(body.subarray(start, start + size))
  return slices
}

const requireCount = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Reply ${name} must be a non-negative integer, got ${value}`)
  }
  return value
}

const describeOutcome = (outcome: Outcome): string => {
  switch (outcome) {
    case "finished":
      return "its response finished normally"
    case "upstream-stopped":
      return "the upstream ended the connection itself (stopAfterWrites)"
    case "upstream-closed":
      return "the upstream was closed first"
    case "client-aborted":
      return "the client aborted it"
  }
}
