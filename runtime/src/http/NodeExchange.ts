/** The `Exchange` over node:http's request and response objects. */
import { PayloadTooLargeError } from "@fluxen/sdk"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Exchange } from "./Exchange.js"

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
    request.once("error", reject)
  })

export const makeNodeExchange = (request: IncomingMessage, response: ServerResponse): Exchange => {
  const url = request.url ?? "/"
  const query = url.indexOf("?")
  // The signal is made when first read, and most requests that end without waiting on anything never read it.
  let left = false
  let controller: AbortController | undefined
  response.once("close", () => {
    if (response.writableFinished) return
    left = true
    controller?.abort()
  })

  let pending = ""
  const flush = () => {
    const text = pending
    pending = ""
    if (text !== "" && !response.destroyed) response.write(text)
  }

  const waitForDrain = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        response.off("drain", done)
        response.off("close", done)
        resolve()
      }
      response.once("drain", done)
      response.once("close", done)
    })

  return {
    method: request.method ?? "GET",
    path: query === -1 ? url : url.slice(0, query),
    headers: {
      get: (name) => {
        const value = request.headers[name.toLowerCase()]
        return Array.isArray(value) ? value.join(", ") : value
      }
    },
    readBody: (limitBytes) => readBody(request, response, limitBytes),
    send: (status, headers, body) => {
      if (response.headersSent || response.destroyed) return
      response.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) })
      response.end(body)
    },
    // The headers go out with the first event, which the pipeline writes right after this,
    // saving a socket write per stream.
    startStream: (status, headers) => {
      response.writeHead(status, headers)
    },
    write: (text) => {
      if (response.destroyed) return undefined
      // The events parsed from one upstream read are written in the same tick. Joined and sent
      // at the next tick, they leave as one HTTP chunk and one socket write instead of one each.
      if (pending === "") process.nextTick(flush)
      pending += text
      return response.writableNeedDrain ? waitForDrain() : undefined
    },
    end: () => {
      if (response.destroyed) return
      const last = pending
      pending = ""
      if (last === "") response.end()
      else response.end(last)
    },
    headersSent: () => response.headersSent,
    clientLeft: () => left,
    get clientGone() {
      if (controller === undefined) {
        controller = new AbortController()
        if (left) controller.abort()
      }
      return controller.signal
    }
  }
}
