/**
 * An `HttpTransport` built on the platform's `fetch`, for plugin tests. It
 * keeps the transport contract the runtime's own transport keeps: an idle
 * timeout on the headers and between body chunks, `UpstreamTimeoutError`
 * and `UpstreamUnreachableError` for failures, and a connection that closes
 * when the request's signal aborts or `discard()` is called.
 */
import { UpstreamTimeoutError, UpstreamUnreachableError } from "../Errors.js"
import type { HttpTransportService, UpstreamRequest, UpstreamResponse } from "../HttpTransport.js"

export interface FetchTransportOptions {
  /** The `fetch` to send with; default `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch
}

const errorCode = (cause: unknown): string | undefined => {
  const seen = new Set<unknown>()
  let current: unknown = cause
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const unreachable = (request: UpstreamRequest, cause: unknown): UpstreamUnreachableError => {
  if (request.signal.aborted) return new UpstreamUnreachableError({ provider: request.provider, reason: "the request was cancelled" })
  const code = errorCode(cause)
  if (code === "ECONNREFUSED") return new UpstreamUnreachableError({ provider: request.provider, reason: "the connection was refused" })
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UpstreamUnreachableError({ provider: request.provider, reason: "the host name could not be resolved" })
  }
  return new UpstreamUnreachableError({
    provider: request.provider,
    reason: code === undefined ? "the connection failed or closed before the response completed" : `the request failed (${code})`
  })
}

/** Creates a transport that sends each request with `fetch`. */
export const makeFetchTransport = (options: FetchTransportOptions = {}): HttpTransportService => {
  const fetchFn = options.fetch ?? globalThis.fetch

  const send = async (request: UpstreamRequest): Promise<UpstreamResponse> => {
    if (request.signal.aborted) throw unreachable(request, request.signal.reason)

    // One controller aborts the fetch for all three reasons: the caller's
    // signal, the idle timer and discard().
    const controller = new AbortController()
    const onCallerAbort = (): void => controller.abort(request.signal.reason)
    request.signal.addEventListener("abort", onCallerAbort, { once: true })
    const release = (): void => request.signal.removeEventListener("abort", onCallerAbort)

    let timedOut: UpstreamTimeoutError | undefined
    let discarded = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const armIdleTimer = (phase: "headers" | "body"): void => {
      timer = setTimeout(() => {
        timedOut = new UpstreamTimeoutError({ provider: request.provider, phase, timeoutMs: request.idleTimeoutMs })
        controller.abort(timedOut)
      }, request.idleTimeoutMs)
      timer.unref?.()
    }
    const disarmIdleTimer = (): void => clearTimeout(timer)
    const failure = (cause: unknown): UpstreamTimeoutError | UpstreamUnreachableError => {
      if (timedOut !== undefined) return timedOut
      if (discarded) return new UpstreamUnreachableError({ provider: request.provider, reason: "the request was cancelled" })
      return unreachable(request, cause)
    }

    let response: Response
    armIdleTimer("headers")
    try {
      response = await fetchFn(request.url, {
        method: request.method,
        headers: request.headers,
        // A copy gives fetch the ArrayBuffer-backed view its types require; test bodies are small.
        ...(request.body === undefined ? {} : { body: typeof request.body === "string" ? request.body : new Uint8Array(request.body) }),
        signal: controller.signal
      })
    } catch (cause) {
      release()
      throw failure(cause)
    } finally {
      disarmIdleTimer()
    }

    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value
    })

    const reader = response.body?.getReader()
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (reader === undefined) {
        release()
        return
      }
      let finished = false
      try {
        while (true) {
          armIdleTimer("body")
          let read: ReadableStreamReadResult<Uint8Array>
          try {
            read = await reader.read()
          } catch (cause) {
            throw failure(cause)
          } finally {
            disarmIdleTimer()
          }
          // A cancelled body reads as ended, so a discard is checked before `done` is trusted.
          if (discarded) throw failure(undefined)
          if (read.done) break
          yield read.value
        }
        finished = true
      } finally {
        release()
        // Stopping before the end closes the connection instead of leaving it half read.
        if (!finished) controller.abort()
      }
    }

    const body = chunks()
    return {
      status: response.status,
      headers,
      body,
      bytes: async () => {
        const parts: Array<Uint8Array> = []
        let length = 0
        for await (const part of body) {
          parts.push(part)
          length += part.length
        }
        const joined = new Uint8Array(length)
        let offset = 0
        for (const part of parts) {
          joined.set(part, offset)
          offset += part.length
        }
        return joined
      },
      // A read that is waiting then fails as cancelled, as the `UpstreamResponse.discard` contract
      // requires. The body is cancelled as well, because Deno's fetch can lose track of its signal
      // after a garbage collection, and then only the cancel closes the connection.
      discard: () => {
        discarded = true
        release()
        controller.abort()
        reader?.cancel().catch(() => undefined)
      }
    }
  }

  return { send }
}
