/**
 * The Anthropic provider plugin: Claude models through Anthropic's Messages
 * API, for OpenAI-shaped chat requests and for native `/v1/messages` and
 * `/v1/messages/count_tokens` requests. The translation functions are exported for hosts that need
 * them elsewhere (an Anthropic-shaped ingress in front of other providers).
 */
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Redacted, Schema } from "effect"
import { makeAnthropicAdapter } from "./AnthropicAdapter.js"

export const AnthropicProviderConfig = Schema.Struct({
  /** Sent as `x-api-key`. Leave it out only for a proxy that adds its own. */
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** The API root including the version path. */
  baseUrl: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^https?:\/\//)), {
    default: () => "https://api.anthropic.com/v1"
  }),
  /** Sent as the `anthropic-version` header, unless a client of `/v1/messages` sent its own. */
  version: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => "2023-06-01" }),
  /** `max_tokens` for chat requests that set no limit, because Anthropic requires one. */
  defaultMaxTokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4096 }),
  /** Beta features sent in `anthropic-beta` with every request, in addition to the client's own. */
  betas: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.minLength(1))), { default: () => [] }),
  /** Extra headers sent with every request. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type AnthropicProviderConfig = typeof AnthropicProviderConfig.Type

export default definePlugin({
  name: "@fluxen/provider-anthropic",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: AnthropicProviderConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const transport = yield* HttpTransport
        const host = yield* PluginHost

        const blankKey = config.apiKey === undefined || Redacted.value(config.apiKey) === ""
        return {
          provider: makeAnthropicAdapter(
            {
              provider: host.instanceName,
              baseUrl: config.baseUrl,
              apiKey: blankKey ? undefined : config.apiKey,
              version: config.version,
              defaultMaxTokens: config.defaultMaxTokens,
              betas: config.betas,
              headers: config.headers ?? {}
            },
            transport
          )
        }
      })
    )
})

export { makeAnthropicAdapter, type AnthropicAdapterOptions } from "./AnthropicAdapter.js"
export { readAnthropicEvents, type AnthropicSseEvent } from "./AnthropicEventStream.js"
export { AnthropicStreamEncoder, type AnthropicStreamEncoderOptions } from "./AnthropicStreamEncoder.js"
export {
  pickAnthropicHeaders,
  readAnthropicError,
  statusByErrorType,
  streamedUpstreamError,
  toOpenAIErrorPayload,
  upstreamErrorFromAnthropic
} from "./errors.js"
export { finishReasonByStopReason, stopReasonByFinishReason, toFinishReason, toStopReason } from "./finishReasons.js"
export { fromAnthropicRequest, type FromAnthropicRequestOptions } from "./fromAnthropicRequest.js"
export { fromAnthropicResponse, isMessageResponse, type FromAnthropicResponseOptions } from "./fromAnthropicResponse.js"
export type * as MessagesApi from "./MessagesApi.js"
export { StreamTranslator, type StreamTranslatorOptions } from "./StreamTranslator.js"
export { effortForBudget, thinkingBudgetByEffort, type SignedThinkingBlock } from "./thinking.js"
export { buildMessagesBody, toAnthropicRequest, type ToAnthropicRequestOptions } from "./toAnthropicRequest.js"
export { toAnthropicResponse, type ToAnthropicResponseOptions } from "./toAnthropicResponse.js"
export { mergeAnthropicUsage, usageFromAnthropic, usageToAnthropic, usageToChatCompletionUsage } from "./usage.js"
