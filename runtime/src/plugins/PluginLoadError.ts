import { Schema } from "effect"

/** A plugin could not be imported, is not a Fluxen plugin, targets another SDK version, or failed to start. */
export class PluginLoadError extends Schema.TaggedError<PluginLoadError>()("PluginLoadError", {
  plugin: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
