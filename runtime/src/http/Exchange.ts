/**
 * One client request and its response, independent of the HTTP server
 * underneath (node:http on Node, `Deno.serve` on Deno). The proxy routes
 * use this directly instead of Effect's HttpServer so that request and
 * response bodies move as plain bytes, without per-request stream setup.
 */
import { InvalidRequestError, type CancelNotice, type RequestHeaders } from "@fluxen/sdk"

export interface Exchange {
  readonly method: string
  /** The path without the query string. */
  readonly path: string
  readonly headers: RequestHeaders
  /** Fluxen's id of the request, set by the pipeline when it starts, for responses the exchange makes itself (shutdown's). */
  requestId: string | undefined
  /**
   * Reads the whole body. Rejects with `PayloadTooLargeError` past
   * `limitBytes`, and with {@link unreadableBody}'s error when the body cannot
   * be read completely (the client went away, a broken chunked encoding).
   */
  readonly readBody: (limitBytes: number) => Promise<Uint8Array>
  /**
   * Sends a complete response. The exchange may add to `headers` (its
   * `content-length`), so pass an object made for this response.
   */
  readonly send: (status: number, headers: Record<string, string>, body: string | Uint8Array) => void
  /** Sends status and headers of a streamed response. */
  readonly startStream: (status: number, headers: Readonly<Record<string, string>>) => void
  /**
   * Writes part of a streamed body: text, or bytes that the exchange may
   * send without copying, so the caller must not change them afterwards.
   * Returns undefined when the client can take more at once, or a promise
   * that resolves when it can (or when it has gone away).
   */
  readonly write: (chunk: string | Uint8Array) => Promise<void> | undefined
  readonly end: () => void
  /** True once status and headers were sent. */
  readonly headersSent: () => boolean
  /**
   * The client's disconnection before the response was complete, as a
   * provider call's `CancelNotice`: `departure.cancelled()` is true once the client has left.
   */
  readonly departure: CancelNotice
  /**
   * Aborted when the client disconnects before the response is complete.
   * Read it only to hand it on (to a provider call, a waiting hook): an
   * `AbortSignal` costs several microseconds to make, so an exchange may
   * make it on the first read.
   */
  readonly clientGone: AbortSignal
}

/** Returns the error of a request body that could not be read completely. */
export const unreadableBody = (): InvalidRequestError =>
  new InvalidRequestError({ message: "The request body could not be read completely.", code: "invalid_body" })
