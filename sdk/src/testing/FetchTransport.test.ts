import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { makeFetchTransport } from "./FetchTransport.js"

/** Starts an upstream on loopback that sends the headers and one event, then stalls, and reports when that request's connection closes. */
const startStallingUpstream = async () => {
  let connectionClosed: Promise<void> | undefined
  const server = createServer((request, response) => {
    connectionClosed = new Promise((resolve) => request.socket.once("close", () => resolve()))
    response.writeHead(200, { "content-type": "text/event-stream" })
    response.write('data: {"choices":[]}\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connectionClosed: () => connectionClosed, close }
}

let upstream: Awaited<ReturnType<typeof startStallingUpstream>> | undefined

afterEach(async () => {
  await upstream?.close()
  upstream = undefined
})

const send = async (url: string) =>
  makeFetchTransport().send({
    provider: "test",
    method: "GET",
    url,
    headers: {},
    signal: new AbortController().signal,
    idleTimeoutMs: 30_000
  })

describe("testing FetchTransport", () => {
  it("discard: waiting read cancelled", async () => {
    upstream = await startStallingUpstream()
    const response = await send(upstream.url)
    const iterator = response.body[Symbol.asyncIterator]()
    await iterator.next()

    const waiting = iterator.next()
    response.discard()

    await expect(waiting).rejects.toMatchObject({ _tag: "UpstreamUnreachableError", reason: "the request was cancelled" })
    const closed = await Promise.race([upstream.connectionClosed()?.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 2_000))])
    expect(closed).toBe(true)
  })
})
