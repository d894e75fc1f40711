/**
 * A route plugin for the error tests, loaded by its compiled file's path. It
 * serves `POST /v1/messages/batches` with a handler that dies, as a
 * plugin with a bug would, so the control router responds with a 500.
 */
import { definePlugin, Plugin, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

export default definePlugin({
  name: "fluxen-test-failing-route",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: Schema.Struct({}),
  layer: () =>
    Layer.succeed(Plugin, {
      routes: [
        {
          method: "POST",
          path: "/v1/messages/batches",
          handle: () => Effect.die(new Error("The test route always fails."))
        }
      ]
    })
})
