/**
 * The Node `HttpTransport`: one undici `Agent` (a keep-alive connection pool
 * per upstream origin) shared by every provider. undici's `headersTimeout`
 * and `bodyTimeout` measure silence, not total time, which is the idle
 * timeout Fluxen promises: every received byte restarts the clock.
 *
 * NOTE: undici 7 checks both timeouts on a shared timer that ticks about
 * every 0.5 s, so a silence is detected up to about 1 s after the idle
 * timeout (a 300 ms timeout fires after 0.5 to 1 s).
 */
import {
  cancelNoticeOf,
  HttpTransport,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
  type CancelNotice,
  type UpstreamRequest,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Effect, Layer } from "effect"
import { Agent, type Dispatcher } from "undici"
import { DispatchedCall } from "./DispatchedCall.js"

export interface UndiciTransportOptions {
  /** Maximum connections per upstream origin. */
  readonly connectionsPerOrigin: number
  /** How long an idle keep-alive connection stays open, in milliseconds. */
  readonly keepAliveMs: number
  readonly connectTimeoutMs: number
}

const errorCode = (cause: unknown): string | undefined => {
  const seen = new Set<unknown>()
  let current: any = cause
  while (current && typeof current === "object" && !seen.has(current)) {
    seen.add(current)
    if (typeof current.code === "string") return current.code
    current = current.cause
  }
  return undefined
}

/** Maps an undici or socket error to the gateway's upstream errors. */
export const toUpstreamError = (request: UpstreamRequest, cause: unknown, connectTimeoutMs: number) => {
  const code = errorCode(cause)
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return new UpstreamTimeoutError({ provider: request.provider, phase: "connect", timeoutMs: connectTimeoutMs })
    case "UND_ERR_HEADERS_TIMEOUT":
      return new UpstreamTimeoutError({ provider: request.provider, phase: "headers", timeoutMs: request.idleTimeoutMs })
    case "UND_ERR_BODY_TIMEOUT":
      return new UpstreamTimeoutError({ provider: request.provider, phase: "body", timeoutMs: request.idleTimeoutMs })
    case "ECONNREFUSED":
      return new UpstreamUnreachableError({ provider: request.provider, reason: "the connection was refused" })
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UpstreamUnreachableError({ provider: request.provider, reason: "the host name could not be resolved" })
    case "UND_ERR_SOCKET":
    case "ECONNRESET":
    case "EPIPE":
      return new UpstreamUnreachableError({ provider: request.provider, reason: "the connection closed before the response completed" })
    case "UND_ERR_ABORTED":
    case "ABORT_ERR":
      return new UpstreamUnreachableError({ provider: request.provider, reason: "the request was cancelled" })
    default:
      return new UpstreamUnreachableError({
        provider: request.provider,
        reason: code === undefined ? "the request failed" : `the request failed (${code})`
      })
  }
}

// A caller that gives no notice may also give no signal, although the type requires one.
const noticeOf = (request: UpstreamRequest): CancelNotice | undefined =>
  request.cancel ?? ((request.signal as AbortSignal | undefined) === undefined ? undefined : cancelNoticeOf(request.signal))

/** An upstream URL split into what undici's `dispatch` takes. */
interface Target {
  readonly origin: string
  readonly path: string
}

// Providers send every request of an operation to the same URL, so each is parsed once.
const MAX_CACHED_TARGETS = 1_000

export const makeUndiciTransport = (agent: Agent, options: UndiciTransportOptions) => {
  const targets = new Map<string, Target>()
  const targetOf = (url: string): Target => {
    let target = targets.get(url)
    if (target === undefined) {
      const parsed = new URL(url)
      target = { origin: parsed.origin, path: parsed.pathname + parsed.search }
      if (targets.size < MAX_CACHED_TARGETS) targets.set(url, target)
    }
    return target
  }

  const send = (request: UpstreamRequest): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const target = targetOf(request.url)
      const call = new DispatchedCall(resolve, reject, (cause) => toUpstreamError(request, cause, options.connectTimeoutMs), noticeOf(request))
      agent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body ?? null,
          headersTimeout: request.idleTimeoutMs,
          bodyTimeout: request.idleTimeoutMs
        },
        call
      )
    })
  return HttpTransport.of({ send })
}

/** Provides `HttpTransport` with an undici agent closed when the layer's scope closes. */
export const layerUndiciTransport = (options: UndiciTransportOptions) =>
  Layer.scoped(
    HttpTransport,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(
          () =>
            new Agent({
              connections: options.connectionsPerOrigin,
              keepAliveTimeout: options.keepAliveMs,
              connectTimeout: options.connectTimeoutMs
            })
        ),
        (agent) => Effect.promise(() => agent.destroy())
      ),
      (agent) => makeUndiciTransport(agent, options)
    )
  )
