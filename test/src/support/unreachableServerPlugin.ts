/**
 * A plugin for the start tests whose layer throws while it builds, as a
 * plugin does when it cannot reach its server. Its error quotes the URL and
 * the key from its config, as careless plugins do, so the tests can check
 * that Fluxen hides both. The tests install it as a package next to the
 * configuration file that re-exports this compiled file.
 */
import { definePlugin, Plugin, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Redacted, Schema } from "effect"

export default definePlugin({
  name: "fluxen-test-unreachable-server",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: Schema.Struct({ url: Schema.String, apiKey: Schema.Redacted(Schema.String) }),
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.sync(() => {
        throw new Error(`connect ECONNREFUSED: ${config.url} rejected the key ${Redacted.value(config.apiKey)}`)
      })
    )
})
