/**
 * Imports plugin packages by name for the Node entry point. Packages are
 * looked up from the configuration's directory and the working directory
 * first (where a deployment installs its third-party plugins), then from
 * the runtime's own dependencies.
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { PackageNotFoundError } from "../plugins/PluginLoadError.js"
import type { ModuleImporter } from "../plugins/PluginLoader.js"

const resolveFrom = (directory: string, packageName: string): string | undefined => {
  try {
    return createRequire(Path.join(directory, "noop.js")).resolve(packageName)
  } catch {
    // Not installed there, or a package that only exports an `import` condition: try the next place.
    return undefined
  }
}

/** Returns whether `error` is Node's failure to find `packageName` itself, not one of its dependencies. */
const isMissingPackage = (error: unknown, packageName: string): boolean =>
  error instanceof Error &&
  (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" &&
  error.message.includes(`'${packageName}'`)

export const makeNodeImporter =
  (places: { readonly configDirectory: string; readonly workingDirectory: string }): ModuleImporter =>
  async (packageName) => {
    for (const directory of [places.configDirectory, places.workingDirectory]) {
      const resolved = resolveFrom(directory, packageName)
      if (resolved !== undefined) return import(pathToFileURL(resolved).href)
    }
    try {
      return await import(packageName)
    } catch (error) {
      if (!isMissingPackage(error, packageName)) throw error
      // NOTE: createRequire cannot resolve a package whose exports have only an `import`
      // condition, so such a package next to the configuration file is reported here too.
      throw new PackageNotFoundError({
        packageName,
        searched: [
          `next to the configuration file (${places.configDirectory})`,
          `in the working directory (${places.workingDirectory})`,
          "among Fluxen's own dependencies"
        ]
      })
    }
  }
