/**
 * The `Exchange` over a web `Request`, answered with a web `Response`; used
 * by `Deno.serve` and any other server speaking the fetch API.
 */
import { cancelNoticeOf, PayloadTooLargeError } from "@fluxen/sdk"
import { unreadableBody, type Exchange } from "../http/Exchange.js"
import type { ApiShape } from "../http/requestIdHeaders.js"
import { shutdownErrorBody, shutdownErrorEvent, shutdownErrorHeaders, shutdownStatus } from "../http/shutdownError.js"

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

export interface WebExchange {
  readonly exchange: Exchange
  /** The response, which settles once status and headers are known. */
  readonly response: Promise<Response>
  /**
   * Ends the request as if its client had left, so the pipeline stops and records it as
   * cancelled. A response not started yet is a 503, and a stream already started ends with an
   * error event, both in the route's error shape, so the client does not take the cut-off
   * body for a complete one.
   */
  readonly cutOff: () => void
}

/**
 * Creates the exchange and the promise of its response. `errorShape` is the error shape of the
 * request's route. `onSettled` is called once, when the response is complete or the client left.
 */
export const makeWebExchange = (
  request: Request,
  path: string,
  errorShape: ApiShape,
  onSettled: () => void = () => undefined
): WebExchange => {
  let resolve!: (response: Response) => void
  const response = new Promise<Response>((settle) => {
    resolve = settle
  })
  const gone = new AbortController()
  let finished = false
  let headersSent = false
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined
  let waitingForPull: (() => void) | undefined

  const finish = () => {
    if (finished) return
    finished = true
    onSettled()
  }
  const leave = (unsent: () => Response = () => new Response(null, { status: 503 })) => {
    if (finished) return
    gone.abort()
    finish()
    waitingForPull?.()
    waitingForPull = undefined
    // The pipeline sends nothing to a client that left, but Deno's `shutdown()` waits for every
    // handler's response, so an empty one ends the handler.
    if (!headersSent) {
      headersSent = true
      resolve(unsent())
    }
  }

  // NOTE: Deno 2.9 also aborts `request.signal` after every complete response, and warns about it
  // once, unless it runs with `--unstable-no-legacy-abort`. `leave` ignores such an abort because
  // `finished` is set by then. The handler's `info.completed` is no substitute: on Deno 2.9 it
  // resolves when the client leaves too.
  request.signal.addEventListener("abort", () => leave())

  const exchange: Exchange = {
    requestId: undefined,
    method: request.method,
    path,
    headers: { get: (name) => request.headers.get(name) ?? undefined },
    readBody: (limitBytes) => readBody(request, limitBytes),
    send: (status, headers, body) => {
      if (headersSent) return
      headersSent = true
      finish()
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
        cancel: leave
      })
      resolve(new Response(body, { status, headers }))
    },
    write: (chunk) => {
      if (stream === undefined || gone.signal.aborted) return undefined
      stream.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
      if ((stream.desiredSize ?? 1) > 0) return undefined
      return new Promise<void>((resume) => {
        waitingForPull = resume
      })
    },
    end: () => {
      finish()
      try {
        stream?.close()
      } catch {
        // The client cancelled the stream, or shutdown cut it off; there is nothing left to close.
      }
    },
    headersSent: () => headersSent,
    departure: cancelNoticeOf(gone.signal),
    clientGone: gone.signal
  }

  const cutOff = () => {
    if (finished) return
    const started = stream
    // The event goes in before `leave`, whose abort listeners may end the stream.
    started?.enqueue(encoder.encode(shutdownErrorEvent(errorShape)))
    leave(() =>
      new Response(shutdownErrorBody(errorShape, exchange.requestId), {
        status: shutdownStatus,
        headers: shutdownErrorHeaders(errorShape, exchange.requestId)
      })
    )
    try {
      started?.close()
    } catch {
      // The pipeline closed it already, as it stopped on the abort.
    }
  }
  return { exchange, response, cutOff }
}
