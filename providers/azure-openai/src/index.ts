/**
 * The Azure OpenAI provider plugin. Azure serves OpenAI's API per
 * deployment: `{endpoint}/openai/deployments/{deployment}/{operation}` with
 * an `api-version` query parameter and the key in an `api-key` header.
 * Azure's content-filter fields (`prompt_filter_results`,
 * `content_filter_results`) pass through to the client unchanged.
 */
import { definePlugin, HttpTransport, makeOpenAICompatibleAdapter, Plugin, PluginHost, SDK_API_VERSION, type OpenAIOperation } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

export const AzureOpenAIConfig = Schema.Struct({
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  endpoint: Schema.String.pipe(Schema.pattern(/^https?:\/\//)),
  apiKey: Schema.Redacted(Schema.String),
  /** The `api-version` query parameter sent with every request. */
  apiVersion: Schema.optionalWith(Schema.String, { default: () => "2024-10-21" }),
  /** Deployment name per upstream model; a model without an entry is used as the deployment name. */
  deployments: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
})
export type AzureOpenAIConfig = typeof AzureOpenAIConfig.Type

/** Builds Azure's URL for an operation on a model's deployment. */
export const azureUrl = (config: AzureOpenAIConfig) => {
  const endpoint = config.endpoint.replace(/\/+$/, "")
  const version = encodeURIComponent(config.apiVersion)
  return (operation: OpenAIOperation, upstreamModel: string): string => {
    if (operation === "models") return `${endpoint}/openai/models?api-version=${version}`
    const deployment = encodeURIComponent(config.deployments[upstreamModel] ?? upstreamModel)
    return `${endpoint}/openai/deployments/${deployment}/${operation}?api-version=${version}`
  }
}

export default definePlugin({
  name: "@fluxen/provider-azure-openai",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: AzureOpenAIConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const transport = yield* HttpTransport
        const host = yield* PluginHost
        return {
          provider: makeOpenAICompatibleAdapter(
            {
              provider: host.instanceName,
              baseUrl: config.endpoint,
              apiKey: config.apiKey,
              authStyle: "api-key",
              streamUsage: true,
              passthrough: ["completions"],
              buildUrl: azureUrl(config)
            },
            transport
          )
        }
      })
    )
})
