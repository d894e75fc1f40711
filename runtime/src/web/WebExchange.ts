/**
 * The `Exchange` over a web `Request`, answered with a web `Response`; used
 * by `Deno.serve` and any other server speaking the fetch API.
 */
import { cancelNoticeOf, PayloadTooLargeError } from "@fluxen/sdk"
import { unreadableBody, type Exchange } from "../http/Exchange.js"

const encoder = new TextEncoder()

const readBody = async (request: Request, limitBytes: number): Promise<Uint8Array> => {
  const declared = Number(request.headers.get("content-length"))
  if (declared > limitBytes) throw new PayloadTooLargeError({ limitBytes })
  const reader = request.body?.getReader()
  if (reader === undefined) return new Uint8Array(0)
  const parts: Array<Uint8Array> = []
  let size = 0
  while (true) {
    let read: ReadableStreamReadResult<Uint8Array>
    try {
      read = await reader.read()
    } catch {
      throw unreadableBody()
    }
    const { done, value } = read
    if (done) break
    size += value.length
    if (size > limitBytes) {
      // The rest is not needed, and a failure to cancel it changes nothing for the client.
      await reader.cancel().catch(() => undefined)
      throw new PayloadTooLargeError({ limitBytes })
    }
    parts.push(value)
  }
  const whole = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    whole.set(part, offset)
    offset += part.length
  }
  return whole
}

/** Creates the exchange and the promise of its response, which settles once status and headers are known. */
export const makeWebExchange = (request: Request, path: string): { readonly exchange: Exchange; readonly response: Promise<Response> } => {
  let resolve!: (response: Response) => void
  const response = new Promise<Response>((settle) => {
    resolve = settle
  })
  const gone = new AbortController()
  let finished = false
  let headersSent = false
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined
  let waitingForPull: (() => void) | undefined

  request.signal.addEventListener("abort", () => {
    if (!finished) gone.abort()
  })

  const exchange: Exchange = {
    method: request.method,
    path,
    headers: { get: (name) => request.headers.get(name) ?? undefined },
    readBody: (limitBytes) => readBody(request, limitBytes),
    send: (status, headers, body) => {
      if (headersSent) return
      headersSent = true
      finished = true
      resolve(new Response(body as BodyInit, { status, headers }))
    },
    startStream: (status, headers) => {
      headersSent = true
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          stream = controller
        },
        pull: () => {
          waitingForPull?.()
          waitingForPull = undefined
        },
        cancel: () => {
          if (!finished) gone.abort()
          waitingForPull?.()
        }
      })
      resolve(new Response(body, { status, headers }))
    },
    write: (text) => {
      if (stream === undefined || gone.signal.aborted) return undefined
      stream.enqueue(encoder.encode(text))
      if ((stream.desiredSize ?? 1) > 0) return undefined
      return new Promise<void>((resume) => {
        waitingForPull = resume
      })
    },
    end: () => {
      finished = true
      try {
        stream?.close()
      } catch {
        // The client cancelled the stream first; there is nothing left to close.
      }
    },
    headersSent: () => headersSent,
    departure: cancelNoticeOf(gone.signal),
    clientGone: gone.signal
  }
  return { exchange, response }
}
