/**
 * The Gemini provider plugin: Google's Gemini API behind Fluxen's
 * OpenAI-shaped routes. Chat requests and responses are translated both ways,
 * and token usage comes from Gemini's `usageMetadata`.
 */
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"
import { makeGeminiAdapter } from "./GeminiAdapter.js"

export const GeminiProviderConfig = Schema.Struct({
  /** A Gemini API key, sent as the `x-goog-api-key` header. */
  apiKey: Schema.Redacted(Schema.String.pipe(Schema.minLength(1))),
  /** The API root including the version path. */
  baseUrl: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^https?:\/\//)), {
    default: () => "https://generativelanguage.googleapis.com/v1beta"
  }),
  /** Extra headers sent with every request. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type GeminiProviderConfig = typeof GeminiProviderConfig.Type

export { makeGeminiAdapter, modelResourcePath, type GeminiAdapterOptions } from "./GeminiAdapter.js"
export { geminiHttpError, retryAfterSeconds } from "./errors.js"
export { finishReasonTable, toOpenAIFinishReason } from "./finishReasons.js"
export { fromGeminiResponse } from "./fromGeminiResponse.js"
export { StreamTranslator, translateGeminiStream, type StreamTranslatorOptions } from "./StreamTranslator.js"
export { functionCallingModeTable, generationConfigTable, thinkingBudgetTable, toGeminiRequest } from "./toGeminiRequest.js"
export { toGeminiSchema } from "./toGeminiSchema.js"
export { usageFromGemini } from "./usage.js"

export default definePlugin({
  name: "@fluxen/provider-gemini",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: GeminiProviderConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const transport = yield* HttpTransport
        const host = yield* PluginHost

        return {
          provider: makeGeminiAdapter(
            { provider: host.instanceName, baseUrl: config.baseUrl, apiKey: config.apiKey, headers: config.headers ?? {} },
            transport
          )
        }
      })
    )
})
