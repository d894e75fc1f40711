/**
 * Reading Anthropic's `text/event-stream` body into parsed events, with the
 * failures mapped to the gateway's errors.
 */
import {
  isGatewayError,
  SseEventTooLargeError,
  SseParser,
  UpstreamProtocolError,
  UpstreamUnreachableError,
  type UpstreamResponse
} from "@fluxen/sdk"
import type { StreamPayload } from "./MessagesApi.js"
import { isRecord } from "./validation.js"

export interface AnthropicSseEvent {
  /** The SSE `event:` field, which Anthropic sets to the payload's `type`. */
  readonly event: string | undefined
  /** The `data:` field as received. */
  readonly data: string
  readonly payload: StreamPayload
}

/**
 * Yields the events of a streamed Messages response. Stopping the iteration
 * early releases the connection. Throws `UpstreamProtocolError` for an event
 * that is not a JSON object with a `type`, and `UpstreamUnreachableError`
 * when the body ends before `message_stop`, so a cut-off stream is never
 * taken for a complete one.
 */
export async function* readAnthropicEvents(provider: string, response: UpstreamResponse): AsyncGenerator<AnthropicSseEvent> {
  const parser = new SseParser()
  let bodyRead = false
  let stopped = false
  try {
    for await (const bytes of readBody(provider, response.body)) {
      for (const event of pushBytes(provider, parser, bytes)) {
        const payload = parsePayload(provider, event.data)
        if (payload.type === "message_stop") stopped = true
        yield { event: event.event, data: event.data, payload }
      }
    }
    parser.end()
    bodyRead = true
  } finally {
    if (!bodyRead) response.discard()
  }
  if (!stopped) {
    throw new UpstreamUnreachableError({ provider, reason: "the stream ended before completion (no message_stop event)" })
  }
}

// The transport rejects with gateway errors, and anything else it throws is wrapped.
async function* readBody(provider: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body
  } catch (cause) {
    if (isGatewayError(cause)) throw cause
    throw new UpstreamUnreachableError({ provider, reason: "reading the response body failed", cause })
  }
}

const pushBytes = (provider: string, parser: SseParser, bytes: Uint8Array) => {
  try {
    return parser.push(bytes)
  } catch (cause) {
    if (cause instanceof SseEventTooLargeError) {
      throw new UpstreamProtocolError({ provider, message: `The upstream sent a stream event larger than ${cause.maxEventBytes} bytes.` })
    }
    throw cause
  }
}

const parsePayload = (provider: string, data: string): StreamPayload => {
  let payload: unknown
  try {
    payload = JSON.parse(data)
  } catch {
    throw new UpstreamProtocolError({ provider, message: "The upstream sent a stream event that is not valid JSON." })
  }
  if (!isRecord(payload) || typeof payload.type !== "string") {
    throw new UpstreamProtocolError({ provider, message: "The upstream sent a stream event without a type." })
  }
  return payload as StreamPayload
}
