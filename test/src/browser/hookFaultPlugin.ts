/**
 * A hook plugin for the metrics tests, loaded by its compiled file's path.
 * Its `beforeRequest` hook always succeeds, and its `afterResponse` hook
 * succeeds, dies, or sleeps for `sleepMs`, as configured.
 */
import { definePlugin, Plugin, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

const HookFaultConfig = Schema.Struct({
  afterResponse: Schema.Literal("succeed", "die", "sleep"),
  /** How long the `sleep` hook sleeps, in milliseconds. */
  sleepMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1_000 })
})

export default definePlugin({
  name: "fluxen-test-hook-fault",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: HookFaultConfig,
  layer: (config) =>
    Layer.succeed(Plugin, {
      hooks: {
        beforeRequest: () => Effect.succeed(undefined),
        afterResponse: () => {
          switch (config.afterResponse) {
            case "succeed":
              return Effect.void
            case "die":
              return Effect.die(new Error("afterResponse failed on purpose in a metrics test"))
            case "sleep":
              return Effect.sleep(config.sleepMs)
          }
        }
      }
    })
})
