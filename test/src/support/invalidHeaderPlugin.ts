/**
 * A hook plugin for the error tests, loaded by its compiled file's path. Its
 * `beforeRequest` hook adds a response header whose value Node refuses to
 * send, as a plugin copying a client's non-Latin-1 text into a header would.
 */
import { definePlugin, Plugin, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

export const INVALID_HEADER_NAME = "x-test-invalid"

export default definePlugin({
  name: "fluxen-test-invalid-header",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: Schema.Struct({}),
  layer: () =>
    Layer.succeed(Plugin, {
      hooks: {
        beforeRequest: (context) => {
          context.responseHeaders[INVALID_HEADER_NAME] = "caf\u0101"
          return Effect.succeed(undefined)
        }
      }
    })
})
