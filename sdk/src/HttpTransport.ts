/**
 * The HTTP client that provider adapters send upstream requests through.
 * The runtime provides it: on Node an undici connection pool per origin, on
 * Deno the platform's `fetch`. Bodies stay plain bytes and async iterables,
 * because this is the hot path and per-request stream machinery costs more
 * than the proxying itself.
 */
import { Context } from "effect"
import type { CancelNotice } from "./CancelNotice.js"

export interface UpstreamRequest {
  /** Provider name, used in error messages and logs. */
  readonly provider: string
  readonly method: "GET" | "POST"
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /** Aborting it closes the upstream connection at once. */
  readonly signal: AbortSignal
  /**
   * The same cancellation as `signal`. A transport that is given it watches
   * it and does not read `signal`, which the caller may then make only when
   * read (see `CancelNotice`).
   */
  readonly cancel?: CancelNotice
  /**
   * Maximum silence, in milliseconds, while waiting for the response headers
   * and between two received body chunks. Every received byte restarts it;
   * there is no total deadline.
   */
  readonly idleTimeoutMs: number
}

export interface UpstreamResponse {
  readonly status: number
  /** Header names are lowercase; repeated headers are joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  /** The body as it arrives. Iterate it once. */
  readonly body: AsyncIterable<Uint8Array>
  /** Reads the whole body. */
  readonly bytes: () => Promise<Uint8Array>
  /**
   * Releases the connection without reading the rest of the body. A body
   * read or `bytes()` call that is waiting for data rejects at once with an
   * `UpstreamUnreachableError` whose reason is "the request was cancelled",
   * so a cut-off body never looks complete. Calling it after the body ended
   * or failed does nothing.
   */
  readonly discard: () => void
}

/**
 * Sends one request. The returned promise rejects with an
 * `UpstreamUnreachableError` or `UpstreamTimeoutError` from `Errors.ts`, and
 * so does reading the body when the connection breaks or goes idle.
 */
export interface HttpTransportService {
  readonly send: (request: UpstreamRequest) => Promise<UpstreamResponse>
}

export class HttpTransport extends Context.Tag("@fluxen/sdk/HttpTransport")<HttpTransport, HttpTransportService>() {}
