/**
 * Anthropic's Messages API in front of any provider. Anthropic deployments
 * receive the body as it is, without its top-level null fields. For the
 * others the body is translated to a chat request, and the chat response
 * (JSON or stream) back to a Messages response. `top_k` survives the
 * translation only for adapters that list it in `chatExtensions`.
 */
import {
  fromAnthropicRequest,
  AnthropicStreamEncoder,
  toAnthropicResponse
} from "@fluxen/provider-anthropic"
import {
  reportsStreamError,
  upstreamErrorFromEvent,
  UpstreamProtocolError,
  type CallContext,
  type ChatCompletion,
  type ChatCompletionChunk,
  type GatewayError,
  type MessagesRequest,
  type ProviderAdapter,
  type ProviderResult,
  type StreamEvent,
  type Usage
} from "@fluxen/sdk"
import { Effect } from "effect"

const hasFinishReason = (chunk: ChatCompletionChunk): boolean =>
  (chunk.choices ?? []).some((choice) => choice.finish_reason !== null && choice.finish_reason !== undefined)

/**
 * Encodes a chat stream as Anthropic events. A stream that reports an error
 * event, or that ends with neither `[DONE]` nor a finish reason, fails
 * instead of ending with `message_stop`, so the client never takes a cut-off
 * response for a complete one.
 */
async function* encodeChatStream(events: AsyncIterable<StreamEvent>, provider: string, model: string): AsyncGenerator<StreamEvent> {
  const encoder = new AnthropicStreamEncoder({ provider, model })
  let usage: Usage | undefined
  let complete = false
  for await (const event of events) {
    if (event.usage !== undefined) usage = event.usage
    if (event.done === true) complete = true
    if (event.done === true || event.json === undefined) continue
    // The error's status, and with it the Anthropic error type the client gets, comes from its
    // numeric `code` or its type, as for the adapters that throw such events themselves.
    // NOTE: its message is not redacted here, because `ProviderAdapter` does not expose an
    // adapter's credentials. The bundled adapters remove their keys from stream errors themselves,
    // so a key can reach the client here only from a plugin's adapter that yields raw error events.
    if (reportsStreamError(event.json)) throw upstreamErrorFromEvent(provider, {}, event.data)
    const chunk = event.json as ChatCompletionChunk
    if (hasFinishReason(chunk)) complete = true
    for (const encoded of encoder.push(chunk, event.usage)) yield usage === undefined ? encoded : { ...encoded, usage }
  }
  if (!complete) {
    throw new UpstreamProtocolError({ provider, message: "The upstream stream ended without a finish reason or [DONE]." })
  }
  for (const encoded of encoder.finish()) yield usage === undefined ? encoded : { ...encoded, usage }
}

export const invokeMessages = (
  adapter: ProviderAdapter,
  provider: string,
  request: MessagesRequest,
  context: CallContext,
  stream: boolean
): Effect.Effect<ProviderResult, GatewayError> =>
  Effect.gen(function* () {
    if (adapter.passthrough !== undefined && adapter.passthroughEndpoints?.includes("messages") === true) {
      return yield* adapter.passthrough("messages", request, context)
    }
    const chat = yield* fromAnthropicRequest(request, { chatExtensions: adapter.chatExtensions })
    if (!stream) {
      const result = yield* adapter.chat({ ...chat, stream: false }, context)
      const body = yield* toAnthropicResponse(result.body as ChatCompletion, { provider })
      return { _tag: "Json", status: result.status, headers: result.headers, body, usage: result.usage } satisfies ProviderResult
    }
    const result = yield* adapter.chatStream({ ...chat, stream: true }, context)
    return {
      _tag: "Stream",
      status: result.status,
      headers: result.headers,
      events: encodeChatStream(result.events, provider, context.upstreamModel)
    } satisfies ProviderResult
  })
