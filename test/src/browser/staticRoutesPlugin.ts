/**
 * A plugin for the dashboard test, loaded by its compiled file's path. It
 * mounts GET routes at the configured path patterns and returns the body
 * configured for the requested path, or HTTP 404 when none is.
 */
import { definePlugin, Plugin, SDK_API_VERSION, type PluginRoute } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

const StaticRoutesConfig = Schema.Struct({
  /** Route paths to mount, which may contain `:name` segments. */
  routes: Schema.Array(Schema.String),
  /** Response bodies by requested path, returned with HTTP 200. */
  responses: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

export default definePlugin({
  name: "fluxen-test-static-routes",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: StaticRoutesConfig,
  layer: (config) =>
    Layer.succeed(Plugin, {
      routes: config.routes.map(
        (path): PluginRoute => ({
          method: "GET",
          path,
          handle: (request) =>
            Effect.succeed(
              Object.hasOwn(config.responses, request.path)
                ? { status: 200, body: config.responses[request.path] }
                : { status: 404, body: { error: { message: `No test response for ${request.path}.`, type: "invalid_request_error", param: null, code: "not_found" } } }
            )
        })
      )
    })
})
