/**
 * The checks that span sections of `fluxen.yaml`: models name declared
 * providers and models, aliases do not loop, and plugin instance names are
 * unique. They run on whatever decoded, so a file with other mistakes
 * still gets them.
 */
import type { ConfigIssue } from "./ConfigError.js"
import type { FluxenConfig, ModelEntry, PluginEntry, ProviderEntry } from "./FluxenConfig.js"
import { formatPath } from "./interpolateEnv.js"

/** A plugin entry with its position under `plugins:`. */
export interface IndexedPlugin {
  readonly index: number
  readonly entry: PluginEntry
}

/** The parts of a configuration that the cross-section checks and the plugin checks read. */
export interface ConfigSections {
  /** Every name under `providers`, with those whose entry is invalid, so that a model naming one is not reported too. */
  readonly providerNames: ReadonlyArray<string>
  /** The provider entries that decode. */
  readonly providers: Readonly<Record<string, ProviderEntry>>
  /** Every name under `models`, with those whose entry is invalid. */
  readonly modelNames: ReadonlySet<string>
  /** The model entries that decode. */
  readonly models: Readonly<Record<string, ModelEntry>>
  /** The plugin entries that decode. */
  readonly plugins: ReadonlyArray<IndexedPlugin>
}

/** Returns the sections of a configuration that decoded as a whole. */
export const sectionsOf = (config: FluxenConfig): ConfigSections => ({
  providerNames: Object.keys(config.providers),
  providers: config.providers,
  modelNames: new Set(Object.keys(config.models)),
  models: config.models,
  plugins: config.plugins.map((entry, index) => ({ index, entry }))
})

/** Finds aliases that lead back to themselves. */
const aliasCycles = (models: Readonly<Record<string, ModelEntry>>): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  for (const name of Object.keys(models)) {
    const seen = new Set<string>([name])
    let current = models[name]?.alias
    while (current !== undefined) {
      if (seen.has(current)) {
        issues.push({ path: formatPath(["models", name, "alias"]), message: `The alias chain ${[...seen, current].join(" -> ")} loops.` })
        break
      }
      seen.add(current)
      current = models[current]?.alias
    }
  }
  return issues
}

const modelIssues = (sections: ConfigSections): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const providerNames = new Set(sections.providerNames)
  const declaredProviders = sections.providerNames.join(", ") || "none"
  const unknownProvider = (path: ReadonlyArray<string | number>, provider: string): ConfigIssue => ({
    path: formatPath(path),
    message: `Unknown provider '${provider}'. Declared providers: ${declaredProviders}.`
  })

  for (const [name, model] of Object.entries(sections.models)) {
    const forms = [model.provider, model.deployments, model.alias].filter((value) => value !== undefined).length
    if (forms !== 1) {
      issues.push({ path: formatPath(["models", name]), message: "Set exactly one of 'provider', 'deployments' or 'alias'." })
    }
    if (model.provider !== undefined && !providerNames.has(model.provider)) {
      issues.push(unknownProvider(["models", name, "provider"], model.provider))
    }
    model.deployments?.forEach((deployment, index) => {
      if (!providerNames.has(deployment.provider)) {
        issues.push(unknownProvider(["models", name, "deployments", index, "provider"], deployment.provider))
      }
    })
    if (model.alias !== undefined && !sections.modelNames.has(model.alias)) {
      issues.push({
        path: formatPath(["models", name, "alias"]),
        message: `Unknown model '${model.alias}'. An alias names another entry under models; for a provider's model, set provider and model instead.`
      })
    }
    model.fallbacks.forEach((fallback, index) => {
      if (!sections.modelNames.has(fallback)) {
        issues.push({ path: formatPath(["models", name, "fallbacks", index]), message: `Unknown model '${fallback}'.` })
      }
    })
  }
  return issues
}

const pluginNameIssues = (plugins: ReadonlyArray<IndexedPlugin>): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const pluginNames = new Set<string>()
  for (const { index, entry } of plugins) {
    const name = entry.name ?? entry.use
    if (pluginNames.has(name)) {
      issues.push({
        path: formatPath(["plugins", index, "name"]),
        message: `The plugin name '${name}' is used twice; give one of the instances another 'name'.`
      })
    }
    pluginNames.add(name)
  }
  return issues
}

export const crossCheck = (sections: ConfigSections): Array<ConfigIssue> => [
  ...modelIssues(sections),
  ...aliasCycles(sections.models),
  ...pluginNameIssues(sections.plugins)
]
