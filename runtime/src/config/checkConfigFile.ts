/**
 * Checking a configuration file completely without starting anything: the
 * file itself (see `readConfigFile`), then every provider and plugin
 * section with its plugin's own schema and `checkConfig`, which may look
 * at the files the section names. `fluxen check-config` and
 * `fluxen start` both run it, so a start fails with the same list of
 * problems before it opens the usage database or starts a plugin.
 */
import { Effect, Either } from "effect"
import { checkPlugin, type ModuleImporter } from "../plugins/PluginLoader.js"
import { ConfigError, type ConfigIssue } from "./ConfigError.js"
import { convertedUnder } from "./decodeWithEnvText.js"
import { dropIssuesUnder, readConfigFile, type LoadedConfig } from "./loadConfig.js"

export interface CheckOptions {
  /** A function that makes the importer of plugin packages for a configuration file's directory. */
  readonly importerFor: (configDirectory: string) => ModuleImporter
  /** True when checking a file for a reload, whose `${VAR}` references read the environment the process started with. */
  readonly reload?: boolean
}

/**
 * Reads and checks a configuration file, failing with one `ConfigError` that
 * lists every problem. The plugin sections are checked even when the file has
 * other problems, in every entry that decodes on its own.
 */
export const checkConfigFile = (file: string, env: Readonly<Record<string, string | undefined>>, options: CheckOptions) =>
  Effect.gen(function* () {
    const { source, directory, reading } = yield* readConfigFile(file, env, { reload: options.reload === true })
    const sections = reading.sections
    const checkOptions = {
      importer: options.importerFor(directory),
      configSource: source,
      configDirectory: directory,
      models: [...(sections?.modelNames ?? [])],
      providers: sections?.providerNames ?? []
    }

    const converted = (yamlPath: ReadonlyArray<string | number>) => convertedUnder(reading.converted, [...yamlPath, "config"])
    const providers = Object.entries(sections?.providers ?? {}).map(([name, entry]) =>
      checkPlugin(
        { packageName: entry.use, instanceName: name, config: entry.config, yamlPath: ["providers", name], converted: converted(["providers", name]) },
        checkOptions
      )
    )
    const plugins = (sections?.plugins ?? []).map(({ index, entry }) =>
      checkPlugin(
        {
          packageName: entry.use,
          instanceName: entry.name ?? entry.use,
          config: entry.config,
          yamlPath: ["plugins", index],
          converted: converted(["plugins", index])
        },
        checkOptions
      )
    )
    const results = yield* Effect.all([...providers, ...plugins].map(Effect.either))

    const pluginIssues = results.flatMap((result): ReadonlyArray<ConfigIssue> => {
      if (Either.isRight(result)) return []
      const error = result.left
      return error._tag === "ConfigError" ? error.issues : [{ path: error.path, message: error.message }]
    })
    const issues = [...reading.issues, ...dropIssuesUnder(pluginIssues, reading.unsetPaths)]
    // `reading.config` is undefined exactly when `reading.issues` is not empty, so the second condition only narrows its type.
    if (issues.length > 0 || reading.config === undefined) return yield* new ConfigError({ source, issues })
    const loaded: LoadedConfig = { config: reading.config, directory, source, converted: reading.converted }
    return loaded
  })
