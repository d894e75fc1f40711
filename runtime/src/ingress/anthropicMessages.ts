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
  upstreamErrorFromBody,
  UpstreamHttpError,
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

// An OpenAI-style server reports a failure inside a started stream as a
// `{"error": {...}}` event with no `choices`.
const isErrorEvent = (json: unknown): boolean =>
  typeof json === "object" && json !== null && "error" in json && !("choices" in json)

const streamErrorOf = (provider: string, data: string): UpstreamHttpError => {
  const mapped = upstreamErrorFromBody(provider, 500, {}, data)
  return new UpstreamHttpError({ provider, status: mapped.status, error: mapped.error, headers: mapped.headers, streamEvent: true })
}

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
    // NOTE: the event carries no HTTP status, so the error is reported as a 500. Its message is not
    // redacted here, because `ProviderAdapter` does not expose an adapter's credentials. The bundled
    // adapters remove their keys from stream errors themselves, so a key can reach the client here
    // only from a plugin's adapter that yields raw error events.
    if (isErrorEvent(event.json)) throw streamErrorOf(provider, event.data)
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
