/**
 * A Fluxen provider plugin for Cohere's Chat API v2, written as a
 * third-party package: it imports only `@fluxen/sdk` and `effect`.
 */
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"
import { makeCohereAdapter } from "./CohereAdapter.js"

export const CohereProviderConfig = Schema.Struct({
  /** A Cohere API key, sent as `Authorization: Bearer`. */
  apiKey: Schema.Redacted(Schema.String.pipe(Schema.minLength(1))),
  /** The API root without the version path. */
  baseUrl: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^https?:\/\//)), { default: () => "https://api.cohere.com" }),
  /** Extra headers sent with every request, e.g. `X-Client-Name`. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type CohereProviderConfig = typeof CohereProviderConfig.Type

export { makeCohereAdapter, type CohereAdapterOptions } from "./CohereAdapter.js"
export { CohereStreamTranslator } from "./CohereStream.js"
export { finishReasonTable, fromCohereResponse, usageFromCohere } from "./fromCohereResponse.js"
export { toCohereRequest } from "./toCohereRequest.js"

export default definePlugin({
  name: "@example/fluxen-provider-cohere",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: CohereProviderConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const transport = yield* HttpTransport
        const host = yield* PluginHost

        return {
          provider: makeCohereAdapter(
            { provider: host.instanceName, baseUrl: config.baseUrl, apiKey: config.apiKey, headers: config.headers ?? {} },
            transport
          )
        }
      })
    )
})
