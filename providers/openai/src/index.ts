/**
 * The OpenAI provider plugin: OpenAI's API, or any OpenAI-compatible server
 * reached by base URL, with presets for the common ones.
 */
import { definePlugin, HttpTransport, makeOpenAICompatibleAdapter, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Redacted, Schema } from "effect"
import { presetNames, presets, type Preset } from "./presets.js"

export { presets, type Preset, type PresetName } from "./presets.js"

export const OpenAIProviderConfig = Schema.Struct({
  /** A known server whose base URL, auth and usage quirks are filled in. */
  preset: Schema.optionalWith(Schema.Literal(...presetNames), { default: () => "openai" as const }),
  /** The API root including the version path; defaults to the preset's. */
  baseUrl: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\//))),
  /** Sent as `Authorization: Bearer` (or as `api-key` with `authStyle: api-key`). */
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  authStyle: Schema.optional(Schema.Literal("bearer", "api-key", "none")),
  organization: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  /** Extra headers sent with every request. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Set to false for servers that reject `stream_options.include_usage`; Fluxen then counts streamed tokens itself when no usage arrives. */
  streamUsage: Schema.optional(Schema.Boolean),
  /** Which of `/v1/completions` and `/v1/responses` the server offers. */
  passthrough: Schema.optional(Schema.Array(Schema.Literal("completions", "responses"))),
  /** Set to true for servers whose streamed tool calls lack `index` and `type`; Fluxen then adds them. */
  completeToolCallDeltas: Schema.optional(Schema.Boolean)
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
        const preset: Preset = presets[config.preset]
        const headers: Record<string, string> = { ...config.headers }
        if (config.organization !== undefined) headers["openai-organization"] = config.organization
        if (config.project !== undefined) headers["openai-project"] = config.project
        const blankKey = config.apiKey === undefined || Redacted.value(config.apiKey) === ""
        const authStyle = config.authStyle ?? preset.authStyle
        // A key may also come in the configured headers, as for a proxy in front of the provider.
        const headerKey = Object.keys(headers).some((name) => ["authorization", "api-key"].includes(name.toLowerCase()))
        if (blankKey && authStyle !== "none" && !headerKey) {
          yield* Effect.logWarning(
            `Provider '${host.instanceName}' has no apiKey, so its requests go upstream without credentials. ` +
              "Set apiKey (OPENAI_API_KEY in the example configuration), or authStyle: none for a server that needs no key."
          ).pipe(Effect.annotateLogs("provider", host.instanceName))
        }
        return {
          provider: makeOpenAICompatibleAdapter(
            {
              provider: host.instanceName,
              baseUrl: config.baseUrl ?? preset.baseUrl,
              apiKey: blankKey ? undefined : config.apiKey,
              authStyle,
              headers,
              streamUsage: config.streamUsage ?? preset.streamUsage,
              passthrough: config.passthrough ?? preset.passthrough,
              ...(preset.usageQuirks === undefined ? {} : { usageQuirks: preset.usageQuirks }),
              completeToolCallDeltas: config.completeToolCallDeltas ?? preset.completeToolCallDeltas ?? false
            },
            transport
          )
        }
      })
    )
})
