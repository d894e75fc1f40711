import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { UpstreamRequest } from "@fluxen/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeFetchTransport } from "./FetchTransport.js"

/** Maximum wait for the upstream connection to close, in milliseconds. */
const CLOSE_BOUND_MS = 2_000
/** Maximum wait for a read to settle after `discard()`, in milliseconds. */
const SETTLE_BOUND_MS = 1_000
/** How long `/late-headers` waits before it sends the status line, in milliseconds. */
const HEADERS_DELAY_MS = 300

let server: Server
let origin: string
/** Resolves when the upstream's connection for that request path closes. */
const connectionClosed = new Map<string, Promise<void>>()

beforeAll(async () => {
  // Every path gets the headers and a first event, then silence on an open connection.
  server = createServer((request, response) => {
    connectionClosed.set(request.url!, new Promise((resolve) => request.socket.once("close", () => resolve())))
    const delay = request.url!.startsWith("/late-headers") ? HEADERS_DELAY_MS : 0
    setTimeout(() => {
      if (response.destroyed) return
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write("data: first\n\n")
    }, delay)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

// A fetch that drops the abort signal, as Deno's fetch does when the signal it follows was
// garbage-collected: only cancelling the body can close the connection.
const fetchIgnoringSignal: typeof fetch = (input, init) => fetch(input, { ...init, signal: null })

const fetches = [
  ["signal honoured", fetch],
  ["signal lost", fetchIgnoringSignal]
] as const

let requestCount = 0

const request = (path: string, signal: AbortSignal, idleTimeoutMs = 60_000): UpstreamRequest => ({
  provider: "test",
  method: "GET",
  url: `${origin}${path}/${++requestCount}`,
  headers: {},
  signal,
  idleTimeoutMs
})

/** Resolves when the upstream connection of `upstreamRequest` closes, and rejects if it is still open `CLOSE_BOUND_MS` later. */
const upstreamClosed = (upstreamRequest: UpstreamRequest): Promise<void> => {
  const path = new URL(upstreamRequest.url).pathname
  const closed = connectionClosed.get(path)
  if (closed === undefined) return Promise.reject(new Error(`The upstream never received ${path}.`))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The upstream connection of ${path} was still open after ${CLOSE_BOUND_MS} ms.`)), CLOSE_BOUND_MS)
    void closed.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const settle = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => "resolved",
    (error: unknown) => error
  )

/** Resolves like `settle`, and rejects if `promise` is still pending after `boundMs`. */
const settleWithin = (promise: Promise<unknown>, boundMs: number): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The read was still pending ${boundMs} ms after discard().`)), boundMs)
    void settle(promise).then((outcome) => {
      clearTimeout(timer)
      resolve(outcome)
    })
  })

describe.each(fetches)("fetch transport, %s", (_, fetchFn) => {
  const transport = makeFetchTransport(fetchFn)

  it("caller abort mid-body closes the upstream", async () => {
    const caller = new AbortController()
    const upstreamRequest = request("/stream", caller.signal)
    const response = await transport.send(upstreamRequest)
    const chunks = response.body[Symbol.asyncIterator]()
    await chunks.next()
    const pendingRead = settle(chunks.next())

    caller.abort()

    await upstreamClosed(upstreamRequest)
    const failure = await pendingRead
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
  })

  it("idle timeout mid-body closes the upstream", async () => {
    const upstreamRequest = request("/stream", new AbortController().signal, 200)
    const response = await transport.send(upstreamRequest)
    const chunks = response.body[Symbol.asyncIterator]()
    await chunks.next()

    const pendingRead = settle(chunks.next())

    await upstreamClosed(upstreamRequest)
    const failure = await pendingRead
    expect((failure as { _tag?: string })._tag).toBe("UpstreamTimeoutError")
    expect((failure as { phase?: string }).phase).toBe("body")
  })

  it("discard mid-body closes the upstream", async () => {
    const upstreamRequest = request("/stream", new AbortController().signal)
    const response = await transport.send(upstreamRequest)
    const chunks = response.body[Symbol.asyncIterator]()
    await chunks.next()

    response.discard()

    await upstreamClosed(upstreamRequest)
  })

  it("discard fails a waiting body read", async () => {
    const upstreamRequest = request("/stream", new AbortController().signal)
    const response = await transport.send(upstreamRequest)
    const chunks = response.body[Symbol.asyncIterator]()
    await chunks.next()
    const pendingRead = settleWithin(chunks.next(), SETTLE_BOUND_MS)
    // Lets the read reach its wait for the next chunk.
    await later(50)

    response.discard()

    const failure = await pendingRead
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    await upstreamClosed(upstreamRequest)
  })

  it("discard fails a waiting bytes()", async () => {
    const upstreamRequest = request("/stream", new AbortController().signal)
    const response = await transport.send(upstreamRequest)
    const pendingBytes = settleWithin(response.bytes(), SETTLE_BOUND_MS)
    await later(50)

    response.discard()

    const failure = await pendingBytes
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    await upstreamClosed(upstreamRequest)
  })

  it("bytes() fails on idle timeout", async () => {
    const upstreamRequest = request("/stream", new AbortController().signal, 200)
    const response = await transport.send(upstreamRequest)

    const pendingBytes = settle(response.bytes())

    await upstreamClosed(upstreamRequest)
    const failure = await pendingBytes
    expect((failure as { _tag?: string })._tag).toBe("UpstreamTimeoutError")
  })

  it("caller abort before headers closes the upstream", async () => {
    const caller = new AbortController()
    const upstreamRequest = request("/late-headers", caller.signal)
    const sent = settle(transport.send(upstreamRequest))
    await later(HEADERS_DELAY_MS / 3)

    caller.abort()

    const failure = await sent
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    // A fetch that lost the signal keeps the connection open until the headers arrive, then the transport closes it.
    await later(HEADERS_DELAY_MS)
    await upstreamClosed(upstreamRequest)
  })
})
