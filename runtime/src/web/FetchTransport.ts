/**
 * The `HttpTransport` on the platform's `fetch`, for runtimes without
 * undici (Deno). The idle timeout is a timer restarted by every received
 * chunk, as on Node.
 *
 * Every abort (the caller's signal, the idle timeout, `discard()`) aborts
 * the fetch's signal and also cancels the response body, because the
 * signal alone may not reach the connection. In Deno 2.9.6 an abort made
 * after a garbage collection leaves the body open: the read stays pending
 * and the upstream connection is never closed (checked by
 * `test/src/deno/fetchTransportAbort.test.ts`). A cancelled body closes its
 * connection without the signal.
 */
import {
  HttpTransport,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
  type HttpTransportService,
  type UpstreamRequest,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Layer } from "effect"

class IdleTimeout {
  constructor(readonly phase: "headers" | "body") {}
}

/** The abort reason of `discard()`, reported as a cancelled request as the Node transport does. */
class Discarded extends DOMException {
  constructor() {
    super("The response was discarded.", "AbortError")
  }
}

const describeFailure = (cause: unknown): string => {
  const text = String((cause as { message?: unknown })?.message ?? cause).toLowerCase()
  if (text.includes("refused")) return "the connection was refused"
  if (text.includes("dns") || text.includes("lookup") || text.includes("not known")) return "the host name could not be resolved"
  return "the connection failed before the response completed"
}

// Cancelling a body that has already failed rejects with that failure, which the pending or next
// read reports, so the rejection is dropped here.
const cancelBody = (reader: ReadableStreamDefaultReader<Uint8Array>, reason: unknown): void => {
  reader.cancel(reason).catch(() => undefined)
}

const send = async (fetchFn: typeof globalThis.fetch, request: UpstreamRequest): Promise<UpstreamResponse> => {
  // The closures below (the caller's listener, the timer, `discard`) keep the controller reachable
  // for the whole call. On Deno that alone does not keep the fetch following its signal, hence `cancelBody`.
  const controller = new AbortController()
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined

  const abort = (reason: unknown) => {
    clearTimeout(timer)
    if (controller.signal.aborted) return
    controller.abort(reason)
    if (reader !== undefined) cancelBody(reader, reason)
  }
  const abortFromCaller = () => abort(request.signal.reason)
  if (request.signal.aborted) abortFromCaller()
  request.signal.addEventListener("abort", abortFromCaller, { once: true })

  const arm = (phase: "headers" | "body") => {
    clearTimeout(timer)
    timer = setTimeout(() => abort(new IdleTimeout(phase)), request.idleTimeoutMs)
  }
  const toError = (cause: unknown) => {
    clearTimeout(timer)
    const reason: unknown = controller.signal.reason
    if (reason instanceof IdleTimeout) {
      return new UpstreamTimeoutError({ provider: request.provider, phase: reason.phase, timeoutMs: request.idleTimeoutMs })
    }
    if (reason instanceof Discarded || request.signal.aborted) {
      return new UpstreamUnreachableError({ provider: request.provider, reason: "the request was cancelled" })
    }
    return new UpstreamUnreachableError({ provider: request.provider, reason: describeFailure(cause) })
  }

  arm("headers")
  let response: Response
  try {
    response = await fetchFn(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body as BodyInit }),
      signal: controller.signal
    })
  } catch (cause) {
    request.signal.removeEventListener("abort", abortFromCaller)
    throw toError(cause)
  }
  clearTimeout(timer)
  reader = response.body?.getReader()
  if (controller.signal.aborted) {
    // The call was aborted before the headers arrived, and the fetch did not see the signal.
    // NOTE: such a fetch keeps the call waiting and the connection open until the headers arrive.
    // Deno 2.9.6 kept the signal in that phase in a manual check with forced garbage collection.
    if (reader !== undefined) cancelBody(reader, controller.signal.reason)
    request.signal.removeEventListener("abort", abortFromCaller)
    throw toError(controller.signal.reason)
  }

  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })

  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (reader === undefined) return
    try {
      while (true) {
        arm("body")
        const { done, value } = await reader.read()
        clearTimeout(timer)
        // A cancelled body reads as ended, so an abort is checked before `done` is trusted.
        if (controller.signal.aborted) throw controller.signal.reason
        if (done) return
        yield value
      }
    } catch (cause) {
      throw toError(cause)
    } finally {
      clearTimeout(timer)
      request.signal.removeEventListener("abort", abortFromCaller)
    }
  }

  const bytes = async (): Promise<Uint8Array> => {
    const parts: Array<Uint8Array> = []
    let size = 0
    for await (const part of chunks()) {
      parts.push(part)
      size += part.length
    }
    const whole = new Uint8Array(size)
    let offset = 0
    for (const part of parts) {
      whole.set(part, offset)
      offset += part.length
    }
    return whole
  }

  return {
    status: response.status,
    headers,
    body: chunks(),
    bytes,
    discard: () => abort(new Discarded())
  }
}

/** Makes the transport on `fetchFn`, which is `fetch` outside of tests. */
export const makeFetchTransport = (fetchFn: typeof globalThis.fetch): HttpTransportService =>
  HttpTransport.of({ send: (request) => send(fetchFn, request) })

export const layerFetchTransport = Layer.succeed(HttpTransport, makeFetchTransport(globalThis.fetch))
