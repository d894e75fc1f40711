/**
 * The plugin definition: what an npm package exports so that Fluxen can load
 * it by name from `fluxen.yaml`.
 *
 * A package's default export is a `PluginDefinition`. The host decodes the
 * plugin's YAML section with `configSchema`, reporting a bad value with its
 * YAML path, then builds `layer(config)` in a scope of its own that closes
 * when Fluxen stops or the plugin is unloaded.
 */
import type { SqlClient } from "@effect/sql"
import { Context } from "effect"
import type { Layer, Schema } from "effect"
import type { HttpTransport } from "./HttpTransport.js"
import type { RequestHooks } from "./Hooks.js"
import type { ProviderAdapter } from "./Provider.js"
import type { PluginRoute } from "./PluginRoutes.js"
import type { PluginMetric } from "./PluginMetrics.js"

/**
 * The version of this contract. The runtime loads a plugin only if it
 * supports the version the plugin was built for.
 */
export const SDK_API_VERSION = 1

/** What a plugin contributes: a provider adapter, request hooks, HTTP routes, or any of them. */
export interface PluginInstance {
  readonly provider?: ProviderAdapter
  readonly hooks?: RequestHooks
  readonly routes?: ReadonlyArray<PluginRoute>
  /** Reads the plugin's figures for `GET /metrics`; called on each scrape, so keep it cheap. */
  readonly metrics?: () => ReadonlyArray<PluginMetric>
}

/** The service each plugin's layer provides. */
export class Plugin extends Context.Tag("@fluxen/sdk/Plugin")<Plugin, PluginInstance>() {}

/** Facts the host gives each plugin instance. */
export interface PluginHostService {
  /** The instance name from the YAML (the provider key, or the package name for hooks). */
  readonly instanceName: string
  /** The package name the plugin was loaded by. */
  readonly packageName: string
  /** The directory of the configuration file, for resolving relative paths. */
  readonly configDirectory: string
}

export class PluginHost extends Context.Tag("@fluxen/sdk/PluginHost")<PluginHost, PluginHostService>() {}

/**
 * Services a plugin's layer may require; the host provides all of them.
 * `SqlClient` is the gateway's own database (SQLite or PostgreSQL, the one
 * usage records go to); a plugin keeps its tables there under its own
 * prefix and runs its own migrations.
 */
export type PluginServices = PluginHost | HttpTransport | SqlClient.SqlClient

/** A problem in a plugin's configuration that its schema cannot detect, such as a file it names that does not exist. */
export interface PluginConfigIssue {
  /** The path of the bad value inside the plugin's `config` section, e.g. `["semantic", "embedder", "modelDirectory"]`. */
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/** Facts about the configuration file that a plugin's `checkConfig` may need. */
export interface PluginConfigContext {
  /** The directory of the configuration file, the same as `PluginHostService.configDirectory` at run time. */
  readonly configDirectory: string
  /**
   * The names under `models:` in the configuration file, for a plugin that sends requests to a
   * model it names, so that it can report a name no request could use (see {@link isRoutableModel}).
   * The host always sets it. It is absent where a caller does not, such as a test that calls
   * `checkConfig` itself.
   */
  readonly models?: ReadonlyArray<string>
  /** The names under `providers:` in the configuration file. The host always sets it, as it does `models`. */
  readonly providers?: ReadonlyArray<string>
}

/**
 * Tells whether the gateway would route a request whose `model` is `model`: a name under
 * `models:`, or `provider/model` with a provider under `providers:` and a model name after the
 * first `/`. Returns undefined when `context` lists no models or providers, because the
 * result is then unknown.
 */
export const isRoutableModel = (model: string, context: PluginConfigContext): boolean | undefined => {
  if (context.models === undefined || context.providers === undefined) return undefined
  if (context.models.includes(model)) return true
  const slash = model.indexOf("/")
  return slash > 0 && slash < model.length - 1 && context.providers.includes(model.slice(0, slash))
}

export interface PluginDefinition<Config = unknown> {
  /** The npm package name. */
  readonly name: string
  readonly version: string
  /** The `SDK_API_VERSION` the plugin was built against. */
  readonly sdkApiVersion: number
  readonly configSchema: Schema.Schema<Config, any>
  /**
   * Checks a decoded config against the machine it is to run on, such as
   * whether the files it names exist. The host calls it after `configSchema`
   * accepted the section, in `fluxen check-config` and before the plugin
   * starts, and reports each issue with its YAML path. It must not start
   * anything or keep anything open.
   */
  readonly checkConfig?: (config: Config, context: PluginConfigContext) => ReadonlyArray<PluginConfigIssue>
  readonly layer: (config: Config) => Layer.Layer<Plugin, unknown, PluginServices>
}

/** Declares a plugin; the identity function, there for type inference. */
export const definePlugin = <Config>(definition: PluginDefinition<Config>): PluginDefinition<Config> => definition
