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

/**
 * A package that this process imported before has another version on disk now. Node keeps
 * the module it imported first, so only a restart runs the installed version.
 */
export class PackageChangedError extends Data.TaggedError("PackageChangedError")<{
  readonly packageName: string
  /** The version when the process first imported the package. */
  readonly importedVersion: string | undefined
  readonly installedVersion: string | undefined
}> {
  override get message() {
    return (
      `The package '${this.packageName}' changed on disk from version ${this.importedVersion ?? "(none)"} to ${this.installedVersion ?? "(none)"} ` +
      "after Fluxen imported it. Node.js imports a package once per process, so a reload cannot load the new version. " +
      "Restart Fluxen to run it."
    )
  }
}
