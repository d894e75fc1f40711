/**
 * The started plugins of the configuration, shared by the gateways that a
 * reload builds. A reload keeps a plugin's instance while everything its
 * layer reads is unchanged, and starts the others again. An instance closes
 * when the last gateway that uses it, serving or draining, releases it.
 */
import type { ProviderAdapter } from "@fluxen/sdk"
import { Effect, Exit, Scope } from "effect"
import type { FluxenConfig, PluginEntry } from "../config/FluxenConfig.js"
import { convertedUnder } from "../config/decodeWithEnvText.js"
import { formatPath, type ConvertedValue } from "../config/interpolateEnv.js"
import { makeHookStats, type HookStats } from "./HookChain.js"
import { layerInputs } from "./layerInputs.js"
import { loadPlugin, type LoadedPlugin, type PluginLoadOptions, type PluginRequest } from "./PluginLoader.js"
import { PluginLoadError } from "./PluginLoadError.js"

export interface RunningPlugin {
  /** The entry's name with its section, such as `providers.openai` or `plugins.@fluxen/cache`, which is unique in one configuration. */
  readonly label: string
  /** Everything the plugin's layer reads, as JSON. A reload keeps the instance while this stays equal. */
  readonly inputs: string
  readonly loaded: LoadedPlugin
  /** The host's counters of the plugin's hooks, kept with the instance. */
  readonly stats: HookStats
  /** The number of gateways, serving or draining, that use the instance. Its scope closes when this drops to zero. */
  users: number
}

export interface StartedPlugins {
  /** Every plugin in load order: the providers, then the `plugins` entries. */
  readonly all: ReadonlyArray<RunningPlugin>
  readonly providers: ReadonlyArray<{ readonly name: string; readonly adapter: ProviderAdapter; readonly plugin: RunningPlugin }>
  readonly hooks: ReadonlyArray<{ readonly entry: PluginEntry; readonly name: string; readonly plugin: RunningPlugin }>
}

export interface StartOptions extends PluginLoadOptions {
  /** The values in the whole configuration that `${VAR}` references turned from text into numbers or booleans. */
  readonly converted: ReadonlyArray<ConvertedValue>
}

/**
 * Starts the plugins of `config` in a child scope each of the current scope, reusing the
 * instance in `previous` of each entry whose layer inputs did not change. When one fails to
 * start, the plugins started here close again and those of `previous` stay as they were.
 */
export const startPlugins = (config: FluxenConfig, previous: ReadonlyArray<RunningPlugin>, options: StartOptions) => {
  const reusable = new Map(previous.map((plugin) => [plugin.label, plugin]))
  const started: Array<RunningPlugin> = []

  const startOrKeep = (label: string, request: PluginRequest) =>
    Effect.gen(function* () {
      const inputs = layerInputs(request, options.configDirectory)
      const kept = reusable.get(label)
      if (kept !== undefined && kept.inputs === inputs) return kept

      const loaded = yield* loadPlugin(request, options)
      const plugin: RunningPlugin = { label, inputs, loaded, stats: makeHookStats(), users: 0 }
      started.push(plugin)
      return plugin
    })

  const requestOf = (packageName: string, instanceName: string, config: unknown, yamlPath: ReadonlyArray<string | number>): PluginRequest => ({
    packageName,
    instanceName,
    config,
    yamlPath,
    converted: convertedUnder(options.converted, [...yamlPath, "config"])
  })

  return Effect.gen(function* () {
    const all: Array<RunningPlugin> = []
    const providers: Array<StartedPlugins["providers"][number]> = []
    for (const [name, entry] of Object.entries(config.providers)) {
      const plugin = yield* startOrKeep(`providers.${name}`, requestOf(entry.use, name, entry.config, ["providers", name]))
      const adapter = plugin.loaded.instance.provider
      if (adapter === undefined) {
        return yield* new PluginLoadError({
          plugin: name,
          path: formatPath(["providers", name, "use"]),
          message: `The package '${entry.use}' named under providers.${name} provides no provider adapter.`
        })
      }
      all.push(plugin)
      providers.push({ name, adapter, plugin })
    }

    const hooks: Array<StartedPlugins["hooks"][number]> = []
    for (const [index, entry] of config.plugins.entries()) {
      const name = entry.name ?? entry.use
      const plugin = yield* startOrKeep(`plugins.${name}`, requestOf(entry.use, name, entry.config, ["plugins", index]))
      all.push(plugin)
      hooks.push({ entry, name, plugin })
    }
    const result: StartedPlugins = { all, providers, hooks }
    return result
  }).pipe(Effect.onError(() => closeScopes(started)))
}

const closeScopes = (plugins: ReadonlyArray<RunningPlugin>) =>
  Effect.forEach([...plugins].reverse(), (plugin) => Scope.close(plugin.loaded.scope, Exit.void), { discard: true })

/** Counts one more gateway as a user of each plugin. */
export const acquirePlugins = (plugins: ReadonlyArray<RunningPlugin>): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const plugin of plugins) plugin.users += 1
  })

/** Counts one gateway fewer as a user of each plugin, and closes those that no gateway uses any more, in reverse load order. */
export const releasePlugins = (plugins: ReadonlyArray<RunningPlugin>): Effect.Effect<void> =>
  Effect.suspend(() => {
    for (const plugin of plugins) plugin.users -= 1
    return closeScopes(plugins.filter((plugin) => plugin.users === 0))
  })

/** The labels of the plugins a reload kept, started again with a changed configuration, added or removed. */
export interface PluginChanges {
  readonly kept: ReadonlyArray<string>
  readonly restarted: ReadonlyArray<string>
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
}

export const comparePlugins = (previous: ReadonlyArray<RunningPlugin>, next: ReadonlyArray<RunningPlugin>): PluginChanges => {
  const previousLabels = new Set(previous.map((plugin) => plugin.label))
  const nextLabels = new Set(next.map((plugin) => plugin.label))
  const previousInstances = new Set(previous)
  return {
    kept: next.filter((plugin) => previousInstances.has(plugin)).map((plugin) => plugin.label),
    restarted: next.filter((plugin) => !previousInstances.has(plugin) && previousLabels.has(plugin.label)).map((plugin) => plugin.label),
    added: next.filter((plugin) => !previousLabels.has(plugin.label)).map((plugin) => plugin.label),
    removed: previous.filter((plugin) => !nextLabels.has(plugin.label)).map((plugin) => plugin.label)
  }
}
