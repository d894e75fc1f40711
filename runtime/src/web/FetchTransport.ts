/**
 * The `HttpTransport` on the platform's `fetch`, for runtimes without
 * undici (Deno). The idle timeout is a timer restarted by every received
 * chunk, as on Node.
 */
import {
  HttpTransport,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
  type UpstreamRequest,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Layer } from "effect"

class IdleTimeout {
  constructor(readonly phase: "headers" | "body") {}
}

const describeFailure = (cause: unknown): string => {
  const text = String((cause as { message?: unknown })?.message ?? cause).toLowerCase()
  if (text.includes("refused")) return "the connection was refused"
  if (text.includes("dns") || text.includes("lookup") || text.includes("not known")) return "the host name could not be resolved"
  return "the connection failed before the response completed"
}

const send = async (request: UpstreamRequest): Promise<UpstreamResponse> => {
  const controller = new AbortController()
  const abortFromCaller = () => controller.abort(request.signal.reason)
  if (request.signal.aborted) abortFromCaller()
  request.signal.addEventListener("abort", abortFromCaller, { once: true })

  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = (phase: "headers" | "body") => {
    clearTimeout(timer)
    timer = setTimeout(() => controller.abort(new IdleTimeout(phase)), request.idleTimeoutMs)
  }
  const toError = (cause: unknown) => {
    clearTimeout(timer)
    const reason: unknown = controller.signal.reason
    if (reason instanceof IdleTimeout) {
      return new UpstreamTimeoutError({ provider: request.provider, phase: reason.phase, timeoutMs: request.idleTimeoutMs })
    }
    if (request.signal.aborted) return new UpstreamUnreachableError({ provider: request.provider, reason: "the request was cancelled" })
    return new UpstreamUnreachableError({ provider: request.provider, reason: describeFailure(cause) })
  }

  arm("headers")
  let response: Response
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body as BodyInit }),
      signal: controller.signal
    })
  } catch (cause) {
    throw toError(cause)
  }
  clearTimeout(timer)

  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  const reader = response.body?.getReader()

  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (reader === undefined) return
    try {
      while (true) {
        arm("body")
        const { done, value } = await reader.read()
        clearTimeout(timer)
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
    discard: () => {
      clearTimeout(timer)
      controller.abort()
    }
  }
}

export const layerFetchTransport = Layer.succeed(HttpTransport, HttpTransport.of({ send }))
