/**
 * Imports plugin packages by name for the Node entry point. Packages are
 * looked up from the configuration's directory and the working directory
 * first (where a deployment installs its third-party plugins), then from
 * the runtime's own dependencies.
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import type { ModuleImporter } from "../plugins/PluginLoader.js"

const resolveFrom = (directory: string, packageName: string): string | undefined => {
  try {
    return createRequire(Path.join(directory, "noop.js")).resolve(packageName)
  } catch {
    // Not installed there, or a package that only exports an `import` condition: try the next place.
    return undefined
  }
}

export const makeNodeImporter =
  (directories: ReadonlyArray<string>): ModuleImporter =>
  async (packageName) => {
    for (const directory of directories) {
      const resolved = resolveFrom(directory, packageName)
      if (resolved !== undefined) return import(pathToFileURL(resolved).href)
    }
    return import(packageName)
  }
