import { Data, Schema } from "effect"

/** A plugin could not be imported, is not a Fluxen plugin, targets another SDK version, or failed to start. */
export class PluginLoadError extends Schema.TaggedError<PluginLoadError>()("PluginLoadError", {
  plugin: Schema.String,
  /** The YAML path of the entry or of its `use` key, e.g. `plugins[2].use`. */
  path: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A failure of a `ModuleImporter` to find a package in any of the places it looks. */
export class PackageNotFoundError extends Data.TaggedError("PackageNotFoundError")<{
  readonly packageName: string
  /** The places searched, in order, as a phrase such as "next to the configuration file (/etc/fluxen)". */
  readonly searched: ReadonlyArray<string>
}> {
  override get message() {
    return `The package '${this.packageName}' was not found ${this.searched.join(", ")}.`
  }
}
