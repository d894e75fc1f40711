/**
 * The OpenAI provider plugin: OpenAI's API, or any OpenAI-compatible server
 * reached by base URL.
 */
import { definePlugin, HttpTransport, makeOpenAICompatibleAdapter, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Redacted, Schema } from "effect"

export const OpenAIProviderConfig = Schema.Struct({
  /** The API root including the version path. */
  baseUrl: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^https?:\/\//)), {
    default: () => "https://api.openai.com/v1"
  }),
  /** Sent as `Authorization: Bearer` (or as `api-key` with `authStyle: api-key`). */
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  authStyle: Schema.optionalWith(Schema.Literal("bearer", "api-key", "none"), { default: () => "bearer" as const }),
  organization: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  /** Extra headers sent with every request. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Set to false for servers that ignore `stream_options.include_usage`; Fluxen then counts streamed tokens itself. */
  streamUsage: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Which of `/v1/completions` and `/v1/responses` the server offers. */
  passthrough: Schema.optionalWith(Schema.Array(Schema.Literal("completions", "responses")), {
    default: () => ["completions", "responses"] as const
  })
})
export type OpenAIProviderConfig = typeof OpenAIProviderConfig.Type

export default definePlugin({
  name: "@fluxen/provider-openai",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: OpenAIProviderConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const transport = yield* HttpTransport
        const host = yield* PluginHost
        const headers: Record<string, string> = { ...config.headers }
        if (config.organization !== undefined) headers["openai-organization"] = config.organization
        if (config.project !== undefined) headers["openai-project"] = config.project
        const blankKey = config.apiKey === undefined || Redacted.value(config.apiKey) === ""
        return {
          provider: makeOpenAICompatibleAdapter(
            {
              provider: host.instanceName,
              baseUrl: config.baseUrl,
              apiKey: blankKey ? undefined : config.apiKey,
              authStyle: config.authStyle,
              headers,
              streamUsage: config.streamUsage,
              passthrough: config.passthrough
            },
            transport
          )
        }
      })
    )
})
