/**
 * Imports plugin packages by name for the Node entry point. Packages are
 * looked up from the configuration's directory and the working directory
 * first (where a deployment installs its third-party plugins), then from
 * the runtime's own dependencies.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { PackageChangedError, PackageNotFoundError } from "../plugins/PluginLoadError.js"
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

/**
 * Returns the `version` in the package.json of `packageName` that contains `file`, or
 * undefined when no such package.json is found above it or it has no version.
 */
const installedVersion = (file: string, packageName: string): string | undefined => {
  let directory = Path.dirname(file)
  while (true) {
    try {
      const manifest = JSON.parse(readFileSync(Path.join(directory, "package.json"), "utf8")) as { name?: unknown; version?: unknown }
      if (manifest.name === packageName) return typeof manifest.version === "string" ? manifest.version : undefined
    } catch {
      // No package.json here, or one that cannot be read: look in the parent directory.
    }
    const parent = Path.dirname(directory)
    if (parent === directory) return undefined
    directory = parent
  }
}

/**
 * The package version of each entry file this process imported, at its first import. Node
 * keeps an imported module for the life of the process, so a later import of the same file
 * returns the first version's code even after the package on disk was upgraded.
 */
const importedVersions = new Map<string, string | undefined>()

/** Imports a resolved entry file, or rejects with `PackageChangedError` when its package's version changed since this process imported it. */
const importResolved = (packageName: string, file: string): Promise<unknown> => {
  const version = installedVersion(file, packageName)
  if (!importedVersions.has(file)) {
    importedVersions.set(file, version)
  } else {
    const importedVersion = importedVersions.get(file)
    if (importedVersion !== version) {
      return Promise.reject(new PackageChangedError({ packageName, importedVersion, installedVersion: version }))
    }
  }
  return import(pathToFileURL(file).href)
}

/** Resolves a package as an `import` from the runtime does, or returns undefined when that fails. */
const resolveFromRuntime = (packageName: string): string | undefined => {
  try {
    return fileURLToPath(import.meta.resolve(packageName))
  } catch {
    // Not installed among the runtime's dependencies: the import below reports it.
    return undefined
  }
}

export const makeNodeImporter =
  (places: { readonly configDirectory: string; readonly workingDirectory: string }): ModuleImporter =>
  async (packageName) => {
    for (const directory of [places.configDirectory, places.workingDirectory]) {
      const resolved = resolveFrom(directory, packageName)
      if (resolved !== undefined) return importResolved(packageName, resolved)
    }
    const resolved = resolveFromRuntime(packageName)
    if (resolved !== undefined) return importResolved(packageName, resolved)
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
