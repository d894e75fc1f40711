/** The `Exchange` over node:http's request and response objects. */
import { PayloadTooLargeError, type CancelNotice } from "@fluxen/sdk"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { unreadableBody, type Exchange } from "./Exchange.js"
import type { ApiShape } from "./requestIdHeaders.js"
import { shutdownErrorBody, shutdownErrorEvent, shutdownErrorHeaders, shutdownStatus } from "./shutdownError.js"

const readBody = (request: IncomingMessage, response: ServerResponse, limitBytes: number): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const tooLarge = () => {
      // The rest of the body is not read, so the connection cannot be reused.
      response.shouldKeepAlive = false
      request.removeAllListeners("data")
      request.resume()
      reject(new PayloadTooLargeError({ limitBytes }))
    }
    const declared = Number(request.headers["content-length"])
    if (declared > limitBytes) return tooLarge()

    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limitBytes) return tooLarge()
      chunks.push(chunk)
    })
    request.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
    request.once("error", () => reject(unreadableBody()))
  })

/** The request headers, read by lower-case name. Repeated headers are joined with commas. */
class NodeRequestHeaders {
  constructor(private readonly headers: IncomingMessage["headers"]) {}

  get(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(", ") : value
  }
}

const exchangeSlot: unique symbol = Symbol("fluxen.openExchanges")

/**
 * The exchanges open on one socket, oldest first. It is the exchange itself while only one is
 * open, and an array of two or more only while the client pipelines requests, so a client that
 * waits for each response allocates nothing here.
 */
type OpenExchanges = NodeExchange | Array<NodeExchange>

type TrackedSocket = Socket & { [exchangeSlot]?: OpenExchanges | undefined }

const track = (socket: TrackedSocket, exchange: NodeExchange): void => {
  const open = socket[exchangeSlot]
  if (open === undefined) socket[exchangeSlot] = exchange
  else if (Array.isArray(open)) open.push(exchange)
  else socket[exchangeSlot] = [open, exchange]
}

const untrack = (socket: TrackedSocket, exchange: NodeExchange): void => {
  const open = socket[exchangeSlot]
  if (open === exchange) {
    socket[exchangeSlot] = undefined
    return
  }
  if (!Array.isArray(open)) return
  const index = open.indexOf(exchange)
  if (index === -1) return
  open.splice(index, 1)
  if (open.length === 1) socket[exchangeSlot] = open[0]
}

/** Returns whether an exchange for a later pipelined request is open on `socket` after `exchange`. */
const isFollowed = (socket: TrackedSocket, exchange: NodeExchange): boolean => {
  const open = socket[exchangeSlot]
  if (!Array.isArray(open)) return false
  const index = open.indexOf(exchange)
  return index !== -1 && index < open.length - 1
}

/** The client's disconnection as a `CancelNotice`, fed by its exchange. */
class Departure implements CancelNotice {
  left = false
  private listeners: Array<() => void> | undefined

  readonly cancelled = (): boolean => this.left

  readonly watch = (listener: () => void): (() => void) => {
    const listeners = (this.listeners ??= [])
    listeners.push(listener)
    return () => {
      const index = listeners.indexOf(listener)
      if (index !== -1) listeners.splice(index, 1)
    }
  }

  notify(): void {
    this.left = true
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners === undefined) return
    // A listener may stop watching, its own or another's, while this runs (a transport call
    // releases its watch as it fails). So the loop runs over a copy and skips the removed.
    for (const listener of listeners.slice()) {
      if (listeners.includes(listener)) listener()
    }
  }
}

/**
 * A class rather than an object of closures: the proxy makes one per request, and methods on
 * the prototype cost no allocation each.
 */
export class NodeExchange implements Exchange {
  readonly method: string
  readonly path: string
  readonly headers: NodeRequestHeaders
  /** Stream text written in this tick, sent at the next (see `write`). */
  private pending = ""
  readonly departure = new Departure()
  requestId: string | undefined = undefined
  private controller: AbortController | undefined

  /**
   * The exchange is tracked on its socket (see `openExchangesOf`) from its creation until its
   * response closes, so that shutdown can cut it off. The socket is the long-lived connection.
   * A long-lived Set of all exchanges, which each young exchange joined and left, doubled the
   * garbage collector's share of Fluxen's CPU time in `npm run bench` (7 % to 14 %, 2-vCPU Xeon VM).
   */
  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly errorShape: ApiShape
  ) {
    const url = request.url ?? "/"
    const query = url.indexOf("?")
    this.method = request.method ?? "GET"
    this.path = query === -1 ? url : url.slice(0, query)
    this.headers = new NodeRequestHeaders(request.headers)
    const socket = request.socket as TrackedSocket | null
    if (socket !== null) track(socket, this)
    response.once("close", this.onClose)
  }

  // NOTE: on Node 20 the response of a pipelined request that still waits behind another emits
  // no "close" when the connection closes, so that request does not learn that its client left.
  private readonly onClose = (): void => {
    this.release()
    if (this.response.writableFinished) return
    this.leave()
  }

  private release(): void {
    const socket = this.request.socket as TrackedSocket | null
    if (socket !== null) untrack(socket, this)
  }

  private leave(): void {
    this.departure.notify()
    this.controller?.abort()
  }

  private readonly flush = (): void => {
    const text = this.pending
    this.pending = ""
    if (text !== "" && !this.response.destroyed) this.response.write(text)
  }

  readBody(limitBytes: number): Promise<Uint8Array> {
    return readBody(this.request, this.response, limitBytes)
  }

  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void {
    const response = this.response
    if (response.headersSent || response.destroyed) return
    headers["content-length"] = String(Buffer.byteLength(body))
    response.writeHead(status, headers)
    response.end(body)
  }

  // The headers go out with the first event, which the pipeline writes right after this,
  // saving a socket write per stream.
  startStream(status: number, headers: Readonly<Record<string, string>>): void {
    this.response.writeHead(status, headers)
  }

  write(chunk: string | Uint8Array): Promise<void> | undefined {
    const response = this.response
    // A stream that shutdown cut off is ended already.
    if (response.destroyed || response.writableEnded) return undefined
    if (typeof chunk === "string") {
      // The events parsed from one upstream read are written in the same tick. Joined and sent
      // at the next tick, they leave as one HTTP chunk and one socket write instead of one each.
      if (this.pending === "") process.nextTick(this.flush)
      this.pending += chunk
    } else {
      // Bytes go out as they are, after the text written before them.
      this.flush()
      response.write(chunk)
    }
    return response.writableNeedDrain ? waitForDrain(response) : undefined
  }

  end(): void {
    const response = this.response
    if (response.destroyed || response.writableEnded) return
    const last = this.pending
    this.pending = ""
    if (last === "") response.end()
    else response.end(last)
  }

  headersSent(): boolean {
    return this.response.headersSent
  }

  /**
   * Ends the response for shutdown's deadline and stops the request as if its client had left,
   * so that the pipeline records it as cancelled. A response not started yet gets a 503, and a
   * stream gets a last error event, both in the route's error shape. A response that the pipeline
   * ended already is left as it is. The promise resolves when the response closes, so it stays
   * pending for a client that stopped reading.
   *
   * The 503 closes the connection unless a later pipelined request's exchange is still open,
   * because Node sends that response after this one on the same connection. So cut off the
   * exchanges of a socket oldest first (see `openExchangesOf`), and the last 503 closes it.
   */
  cutOff(): Promise<void> {
    const response = this.response
    const socket = this.request.socket as TrackedSocket | null
    const followed = socket !== null && isFollowed(socket, this)
    this.release()
    if (response.destroyed) return Promise.resolve()
    const closed = new Promise<void>((resolve) => response.once("close", resolve))
    // Its body may still be on the way, or wait behind an earlier pipelined response.
    if (response.writableEnded) return closed
    if (response.headersSent) {
      const last = this.pending + shutdownErrorEvent(this.errorShape)
      this.pending = ""
      response.end(last)
    } else {
      const body = shutdownErrorBody(this.errorShape, this.requestId)
      const headers = shutdownErrorHeaders(this.errorShape, this.requestId)
      headers["content-length"] = String(Buffer.byteLength(body))
      if (!followed) response.shouldKeepAlive = false
      response.writeHead(shutdownStatus, headers)
      response.end(body)
    }
    this.leave()
    return closed
  }

  // Made when first read: most requests that end without waiting on anything never read it.
  get clientGone(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.departure.left) this.controller.abort()
    }
    return this.controller.signal
  }
}

const waitForDrain = (response: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      response.off("drain", done)
      response.off("close", done)
      resolve()
    }
    response.once("drain", done)
    response.once("close", done)
  })

export const makeNodeExchange = (request: IncomingMessage, response: ServerResponse, errorShape: ApiShape): NodeExchange =>
  new NodeExchange(request, response, errorShape)

/**
 * Returns the exchanges whose responses on `socket` are not complete yet, oldest first. That is
 * the order of their requests, in which Node sends their responses when the client pipelines.
 */
export const openExchangesOf = (socket: Socket): Array<NodeExchange> => {
  const open = (socket as TrackedSocket)[exchangeSlot]
  if (open === undefined) return []
  // A copy, because cutting an exchange off removes it from the array.
  return Array.isArray(open) ? open.slice() : [open]
}
