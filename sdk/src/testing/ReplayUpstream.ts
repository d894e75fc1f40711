/**
 * A local HTTP server that plays the upstream provider in a plugin's tests.
 * It serves recordings in the order they were queued, cut into the writes a
 * test requests, and keeps every request it received. A test can then check
 * what the plugin sent and whether the plugin closed the connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { isEventStream, planWrites, recordingBytes, type Recording, type WritePattern } from "./Recording.js"

/** A request as the replay server received it. */
export interface ReceivedRequest {
  readonly method: string
  /** The request target: the path with its query string. */
  readonly path: string
  /** Lowercase header names; repeated headers are joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  /** The body decoded as UTF-8. */
  readonly body: string
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  readonly json: unknown
}

export interface ReplayReply {
  readonly recording: Recording
  /** Default `per-event`. */
  readonly writes?: WritePattern
  /** Pause before each write after the first, in milliseconds. */
  readonly delayMs?: number
  /**
   * Stops writing after this many writes and keeps the connection open, as
   * an upstream that goes silent mid-stream. The response never finishes,
   * so only the client can end the exchange.
   */
  readonly hangAfterWrites?: number
}

/** The way the exchange of one request ended. */
export type ExchangeEnd = "finished" | "client-closed" | "server-closed"

export interface ReplayUpstream {
  /** The base URL, `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Every request received, in arrival order. */
  readonly requests: ReadonlyArray<ReceivedRequest>
  /**
   * Queues the reply to the next request. A request that finds the queue
   * empty gets a 500 whose JSON body names its method and path.
   */
  readonly enqueue: (reply: ReplayReply) => void
  /**
   * Resolves when the client closes the connection of request `index`
   * (0-based, as in `requests`) before its response finished. Rejects when
   * the response finished or the server closed first, and after `timeoutMs`
   * (default 5000).
   */
  readonly waitForClientClose: (index: number, timeoutMs?: number) => Promise<void>
  /** The number of TCP connections open now. */
  readonly openConnections: () => number
  /** Closes the server and destroys its open connections. */
  readonly close: () => Promise<void>
}

interface PreparedReply {
  readonly status: number
  readonly headers: Record<string, string | number>
  readonly writes: ReadonlyArray<Uint8Array>
  readonly delayMs: number
  readonly hangAfterWrites: number | undefined
}

interface Exchange {
  end: ExchangeEnd | undefined
  readonly listeners: Array<(end: ExchangeEnd) => void>
}

const DEFAULT_WAIT_MS = 5_000

/** Starts a replay server on 127.0.0.1 with a free port. */
export const startReplayUpstream = async (): Promise<ReplayUpstream> => {
  const requests: Array<ReceivedRequest> = []
  const queue: Array<PreparedReply> = []
  const exchanges: Array<Exchange> = []
  const sockets = new Set<Socket>()
  // Aborted by close(), which cancels pending delays.
  const shutdown = new AbortController()
  let closing: Promise<void> | undefined

  const exchangeAt = (index: number): Exchange => {
    exchanges[index] ??= { end: undefined, listeners: [] }
    return exchanges[index]
  }

  const settle = (index: number, end: ExchangeEnd): void => {
    const exchange = exchangeAt(index)
    if (exchange.end !== undefined) return
    exchange.end = end
    for (const listener of exchange.listeners.splice(0)) listener(end)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Writes to a client that went away fail; the 'close' listener records that outcome.
    res.on("error", () => {})

    const chunks: Array<Buffer> = []
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer)
    } catch {
      // The client went away before sending its whole body, so there is nothing to record or reply to.
      return
    }

    const index = requests.length
    requests.push(toReceivedRequest(req, Buffer.concat(chunks)))
    exchangeAt(index)
    res.once("close", () => {
      if (res.writableFinished) settle(index, "finished")
      else settle(index, shutdown.signal.aborted ? "server-closed" : "client-closed")
    })
    // The connection may have closed while the body was being read.
    if (res.destroyed) settle(index, shutdown.signal.aborted ? "server-closed" : "client-closed")

    const reply = queue.shift() ?? missingReply(req.method ?? "GET", req.url ?? "/")
    try {
      await serve(res, reply, shutdown.signal)
    } catch (error) {
      // A delay cancelled by close() ends the reply; anything else is a bug in the server.
      if (!shutdown.signal.aborted) throw error
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

  const waitForClientClose = (index: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> =>
    new Promise((resolve, reject) => {
      const conclude = (end: ExchangeEnd): void => {
        if (end === "client-closed") resolve()
        else reject(new Error(`Request ${index} was not closed by the client: ${describeEnd(end)}.`))
      }
      const exchange = exchangeAt(index)
      if (exchange.end !== undefined) {
        conclude(exchange.end)
        return
      }
      const timer = setTimeout(() => {
        const state = index < requests.length ? "its response is still open" : "the request never arrived"
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for the client to close request ${index}, and ${state}.`))
      }, timeoutMs)
      exchange.listeners.push((end) => {
        clearTimeout(timer)
        conclude(end)
      })
    })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      shutdown.abort()
      const serverClosed = new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
      const socketsClosed = [...sockets].map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once("close", () => resolve())
            socket.destroy()
          })
      )
      await Promise.all([serverClosed, ...socketsClosed])
    })()
    return closing
  }

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (reply) => {
      queue.push(prepareReply(reply))
    },
    waitForClientClose,
    openConnections: () => sockets.size,
    close
  }
}

const serve = async (res: ServerResponse, reply: PreparedReply, signal: AbortSignal): Promise<void> => {
  res.writeHead(reply.status, reply.headers)
  // Sends the status and headers now, so the client sees them before a delay or a hang.
  res.flushHeaders()

  for (let i = 0; i < reply.writes.length; i++) {
    if (i === reply.hangAfterWrites) return
    if (i > 0 && reply.delayMs > 0) await sleep(reply.delayMs, undefined, { signal })
    if (res.destroyed) return
    await write(res, reply.writes[i]!)
  }
  if (reply.hangAfterWrites !== undefined) return
  if (!res.destroyed) res.end()
}

// Resolves once the chunk is handed to the socket, or once the response closes,
// so that each write leaves as a separate socket write.
const write = (res: ServerResponse, chunk: Uint8Array): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      res.off("close", done)
      resolve()
    }
    res.once("close", done)
    res.write(chunk, done)
  })

const toReceivedRequest = (req: IncomingMessage, body: Buffer): ReceivedRequest => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value
  }
  const text = body.toString("utf8")
  let json: unknown
  try {
    json = text.trim() === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { method: req.method ?? "GET", path: req.url ?? "/", headers, body: text, json }
}

const missingReply = (method: string, path: string): PreparedReply => {
  const body = new TextEncoder().encode(
    JSON.stringify({
      error: {
        message: `The replay upstream has no reply queued for ${method} ${path}. Enqueue a reply before sending the request.`,
        type: "replay_upstream_error"
      }
    })
  )
  return { status: 500, headers: { "content-type": "application/json", "content-length": body.length }, writes: [body], delayMs: 0, hangAfterWrites: undefined }
}

// Checks a reply and cuts its body when it is queued, so a mistake fails the
// test at the enqueue call and not inside the server.
const prepareReply = (reply: ReplayReply): PreparedReply => {
  const { recording } = reply
  const status = recording.status ?? 200
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`Recording status must be an integer from 100 to 599, got ${status}.`)
  }
  const delayMs = reply.delayMs ?? 0
  if (!Number.isInteger(delayMs) || delayMs < 0) throw new Error(`ReplayReply delayMs must be a non-negative integer, got ${delayMs}.`)
  const hangAfterWrites = reply.hangAfterWrites
  if (hangAfterWrites !== undefined && (!Number.isInteger(hangAfterWrites) || hangAfterWrites < 0)) {
    throw new Error(`ReplayReply hangAfterWrites must be a non-negative integer, got ${hangAfterWrites}.`)
  }

  const contentType = recording.contentType ?? "application/json"
  const headers: Record<string, string | number> = { "content-type": contentType }
  for (const [name, value] of Object.entries(recording.headers ?? {})) headers[name.toLowerCase()] = value

  const body = recordingBytes(recording)
  const eventStream = isEventStream(contentType)
  // Streams go out chunked, as upstreams send them. Other bodies carry their length,
  // unless the reply hangs, because a length would then promise bytes that never come.
  if (!eventStream && hangAfterWrites === undefined && headers["content-length"] === undefined) {
    headers["content-length"] = body.length
  }
  return { status, headers, writes: planWrites(body, reply.writes ?? "per-event", eventStream), delayMs, hangAfterWrites }
}

const describeEnd = (end: ExchangeEnd): string => {
  switch (end) {
    case "finished":
      return "its response finished normally"
    case "server-closed":
      return "the replay server was closed first"
    case "client-closed":
      return "the client closed it"
  }
}
