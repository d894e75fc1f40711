import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { CancelNotice, UpstreamResponse } from "@fluxen/sdk"
import { Agent } from "undici"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeUndiciTransport } from "./UndiciTransport.js"

/** A body far over the handler's 64 KiB high-water mark, sent in one write. */
const LARGE_BODY = Buffer.alloc(1024 * 1024, "a")
const SMALL_BODY = Buffer.from('{"ok":true}')
/** Maximum wait for a read to settle after `discard()`, in milliseconds. */
const SETTLE_BOUND_MS = 1_000
/** Maximum wait for the upstream connection to close after `discard()`, in milliseconds. */
const CLOSE_BOUND_MS = 2_000

let server: Server
let origin: string
/** Resolves when the upstream's connection for that request path closes. */
const connectionClosed = new Map<string, Promise<void>>()
const agent = new Agent({ connections: 4 })
const transport = makeUndiciTransport(agent, { connectionsPerOrigin: 4, keepAliveMs: 1_000, connectTimeoutMs: 1_000 })

beforeAll(async () => {
  server = createServer((request, response) => {
    connectionClosed.set(request.url!, new Promise((resolve) => request.socket.once("close", () => resolve())))
    if (request.url === "/silent") return
    if (request.url!.startsWith("/stall/")) {
      // The headers and one event, then silence on an open connection.
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write("data: first\n\n")
      return
    }
    if (request.url === "/repeated") {
      response.writeHead(200, [["x-limit", "a"], ["x-limit", "b"], ["content-length", "0"]].flat())
      return response.end()
    }
    const body = request.url === "/large" ? LARGE_BODY : SMALL_BODY
    response.writeHead(200, { "content-type": "application/json", "content-length": body.length })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await agent.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const send = (path: string, signal?: AbortSignal): Promise<UpstreamResponse> =>
  transport.send({ provider: "test", method: "GET", url: `${origin}${path}`, headers: {}, signal, idleTimeoutMs: 5_000 })

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let stallCount = 0
const stallPath = () => `/stall/${++stallCount}`

/** Resolves with the error that `promise` rejects with, or with "resolved", and rejects if it is still pending after `boundMs`. */
const settleWithin = (promise: Promise<unknown>, boundMs: number): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The read was still pending ${boundMs} ms after discard().`)), boundMs)
    const settle = (outcome: unknown) => {
      clearTimeout(timer)
      resolve(outcome)
    }
    promise.then(() => settle("resolved"), settle)
  })

/** Resolves when the upstream connection for `path` closes, and rejects if it is still open `CLOSE_BOUND_MS` later. */
const upstreamClosed = (path: string): Promise<void> => {
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

const readAll = async (body: AsyncIterable<Uint8Array>): Promise<number> => {
  let size = 0
  for await (const chunk of body) size += chunk.length
  return size
}

describe("undici transport", () => {
  it("reads a large body whose connection paused before bytes()", async () => {
    const response = await send("/large")
    // By now the handler has queued more than its high-water mark and paused the connection.
    await later(50)

    const bytes = await response.bytes()

    expect(bytes.length).toBe(LARGE_BODY.length)
  })

  it("iterates a large body read slowly", async () => {
    const response = await send("/large")
    await later(50)

    const size = await readAll(response.body)

    expect(size).toBe(LARGE_BODY.length)
  })

  it("reads a small body with bytes()", async () => {
    const response = await send("/small")

    const bytes = await response.bytes()

    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toBe("application/json")
    expect(Buffer.from(bytes).toString()).toBe('{"ok":true}')
  })

  it("fails at once for a signal already aborted", async () => {
    const controller = new AbortController()
    controller.abort()

    const failure = await send("/small", controller.signal).catch((error: unknown) => error)

    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
  })

  it("fails a waiting request when its signal aborts", async () => {
    const controller = new AbortController()
    const pending = send("/silent", controller.signal).catch((error: unknown) => error)

    await later(50)
    controller.abort()
    const failure = await pending

    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
  })

  it("cancel notice: aborts, signal unread", async () => {
    let listener: (() => void) | undefined
    let stopped = false
    const cancel: CancelNotice = {
      cancelled: () => false,
      watch: (watcher) => {
        listener = watcher
        return () => {
          stopped = true
        }
      }
    }
    const request = {
      provider: "test",
      method: "GET" as const,
      url: `${origin}/silent`,
      headers: {},
      get signal(): AbortSignal {
        throw new Error("The transport read the signal although it was given the notice.")
      },
      cancel,
      idleTimeoutMs: 5_000
    }
    const pending = transport.send(request).catch((error: unknown) => error)

    await later(50)
    listener!()
    const failure = await pending

    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    expect(stopped).toBe(true)
  })

  it("discard fails a waiting body read", async () => {
    const path = stallPath()
    const response = await send(path)
    const chunks = response.body[Symbol.asyncIterator]()
    await chunks.next()
    const pendingRead = settleWithin(chunks.next(), SETTLE_BOUND_MS)
    // Lets the read reach its wait for the next chunk.
    await later(50)

    response.discard()

    const failure = await pendingRead
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    await upstreamClosed(path)
  })

  it("discard fails a waiting bytes()", async () => {
    const path = stallPath()
    const response = await send(path)
    const pendingBytes = settleWithin(response.bytes(), SETTLE_BOUND_MS)
    await later(50)

    response.discard()

    const failure = await pendingBytes
    expect((failure as { _tag?: string })._tag).toBe("UpstreamUnreachableError")
    expect((failure as { reason?: string }).reason).toBe("the request was cancelled")
    await upstreamClosed(path)
  })

  it("joins a repeated header with commas", async () => {
    const response = await send("/repeated")
    await response.bytes()

    expect(response.headers["x-limit"]).toBe("a, b")
    expect(response.headers["content-length"]).toBe("0")
  })
})
