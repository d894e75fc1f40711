/**
 * An `HttpTransport` on Node's `fetch`, for plugin-level tests that run
 * without the runtime's undici transport. It reads each body whole.
 */
import { UpstreamUnreachableError, type HttpTransportService } from "@fluxen/sdk"

export const fetchTransport: HttpTransportService = {
  send: async (request) => {
    let response: Response
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        // A copy, because fetch's types take only a Uint8Array backed by a plain ArrayBuffer.
        ...(request.body === undefined ? {} : { body: typeof request.body === "string" ? request.body : new Uint8Array(request.body) }),
        signal: request.signal
      })
    } catch (cause) {
      throw new UpstreamUnreachableError({ provider: request.provider, reason: String(cause), cause })
    }
    const bytes = new Uint8Array(await response.arrayBuffer())
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name] = value
    })
    return {
      status: response.status,
      headers,
      body: (async function* () {
        yield bytes
      })(),
      bytes: async () => bytes,
      discard: () => {}
    }
  }
}
