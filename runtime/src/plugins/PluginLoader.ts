/**
 * Loading plugins named in `fluxen.yaml`: import the package by name, check
 * that it is a plugin built for a supported SDK version, decode its YAML
 * section with its own schema, and build its layer in a scope of its own.
 * Each plugin's scope is a child of the caller's scope, so plugins close in
 * the reverse of their load order.
 */
import { SqlClient } from "@effect/sql"
import {
  HttpTransport,
  Plugin,
  PluginHost,
  SDK_API_VERSION,
  type PluginDefinition,
  type PluginInstance
} from "@fluxen/sdk"
import { Cause, Context, Effect, Either, ExecutionStrategy, Exit, Layer, Schema, Scope } from "effect"
import { ConfigError, issuesFromParseError } from "../config/ConfigError.js"
import { decodeWithEnvText } from "../config/decodeWithEnvText.js"
import { formatPath, type ConvertedValue } from "../config/interpolateEnv.js"
import { failureReason, makeSecretHider } from "./describeStartFailure.js"
import { PackageChangedError, PackageNotFoundError, PluginLoadError } from "./PluginLoadError.js"

/** The SDK API versions this runtime can host. */
export const SUPPORTED_SDK_API_VERSIONS: ReadonlyArray<number> = [SDK_API_VERSION]

/**
 * Imports a module by package name. The entry point decides where packages are looked up,
 * and the importer rejects with `PackageNotFoundError` when the package is in none of those places.
 */
export type ModuleImporter = (packageName: string) => Promise<unknown>

export interface PluginRequest {
  readonly packageName: string
  readonly instanceName: string
  readonly config: unknown
  /** The YAML path of the plugin's entry, e.g. `["plugins", 0]` or `["providers", "openai"]`. */
  readonly yamlPath: ReadonlyArray<string | number>
  /** The values of `config` that `${VAR}` substitution turned into numbers or booleans, with paths relative to `config`. */
  readonly converted?: ReadonlyArray<ConvertedValue>
}

export interface LoadedPlugin {
  readonly instanceName: string
  readonly packageName: string
  readonly version: string
  readonly instance: PluginInstance
  /** Closing it releases everything the plugin acquired. */
  readonly scope: Scope.CloseableScope
}

/** The YAML path of an entry's package name, e.g. `plugins[2].use`. */
export const usePath = (request: PluginRequest): string => formatPath([...request.yamlPath, "use"])

const isPluginDefinition = (value: unknown): value is PluginDefinition<unknown> => {
  if (typeof value !== "object" || value === null) return false
  const candidate = value as Record<string, unknown>
  return (
    typeof candidate.name === "string" &&
    typeof candidate.version === "string" &&
    typeof candidate.sdkApiVersion === "number" &&
    Schema.isSchema(candidate.configSchema) &&
    typeof candidate.layer === "function"
  )
}

/**
 * Packages that a plugin takes as peer dependencies and must share with the runtime, because
 * the host and the plugin exchange the SDK's services and errors and Effect values.
 */
const SHARED_PACKAGES: ReadonlyArray<string> = ["@fluxen/sdk", "effect"]

/** Returns the shared package that Node could not find while it imported a plugin, if that is why the import failed. */
const missingSharedPackage = (cause: unknown): string | undefined => {
  if (!(cause instanceof Error) || (cause as { readonly code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") return undefined
  // Node names the package in quotes: "Cannot find package '@fluxen/sdk' imported from /srv/node_modules/...".
  return SHARED_PACKAGES.find((name) => cause.message.includes(`'${name}'`))
}

/** Describes why an import failed: where the importer looked, or the error of a package that exists. */
const describeImportFailure = (packageName: string, cause: unknown): string => {
  if (cause instanceof PackageNotFoundError) {
    return `The package '${packageName}' is not installed ${joinPlaces(cause.searched)}. Install it in one of these places, or fix the name.`
  }
  if (cause instanceof PackageChangedError) return cause.message
  const shared = missingSharedPackage(cause)
  if (shared !== undefined) {
    return (
      `The package '${packageName}' failed to import because it cannot find its peer dependency '${shared}': ${String(cause)}. ` +
      "A plugin must use Fluxen's own @fluxen/sdk and effect, so install it at the root of the Fluxen checkout " +
      "(npm install <plugin tarball or name> there), not in a directory of its own."
    )
  }
  return `The package '${packageName}' failed to import: ${String(cause)}`
}

const joinPlaces = (places: ReadonlyArray<string>): string =>
  places.length < 2 ? places.join("") : `${places.slice(0, -1).join(", ")} or ${places[places.length - 1]}`

const importDefinition = (importer: ModuleImporter, request: PluginRequest) =>
  Effect.tryPromise({
    try: () => importer(request.packageName),
    catch: (cause) =>
      new PluginLoadError({
        plugin: request.packageName,
        path: usePath(request),
        message: describeImportFailure(request.packageName, cause),
        cause
      })
  }).pipe(
    Effect.flatMap((module) => {
      const exported = (module as { default?: unknown }).default ?? (module as { plugin?: unknown }).plugin
      return isPluginDefinition(exported)
        ? Effect.succeed(exported)
        : Effect.fail(
            new PluginLoadError({
              plugin: request.packageName,
              path: usePath(request),
              message: `The package '${request.packageName}' does not export a Fluxen plugin definition as its default export (see definePlugin in @fluxen/sdk).`
            })
          )
    })
  )

const checkSdkVersion = (definition: PluginDefinition<unknown>, request: PluginRequest) => {
  const packageName = request.packageName
  return SUPPORTED_SDK_API_VERSIONS.includes(definition.sdkApiVersion)
    ? Effect.void
    : Effect.fail(
        new PluginLoadError({
          plugin: packageName,
          path: usePath(request),
          message:
            `The plugin '${packageName}' ${definition.version} was built for Fluxen SDK API version ${definition.sdkApiVersion}, ` +
            `but this runtime supports version ${SUPPORTED_SDK_API_VERSIONS.join(", ")}. Install a release of the plugin built for a supported version.`
        })
      )
}

const decodePluginConfig = (definition: PluginDefinition<unknown>, request: PluginRequest, source: string) => {
  const { decoded } = decodeWithEnvText(definition.configSchema, request.config ?? {}, request.converted ?? [])
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(
        new ConfigError({
          source,
          issues: issuesFromParseError(decoded.left.issue, [...request.yamlPath, "config"], formatPath)
        })
      )
}

/** The importer of plugin packages, and the facts about the configuration file that each plugin's `checkConfig` gets. */
export interface PluginLoadOptions {
  readonly importer: ModuleImporter
  readonly configSource: string
  readonly configDirectory: string
  /** The names under `models:`. */
  readonly models: ReadonlyArray<string>
  /** The names under `providers:`. */
  readonly providers: ReadonlyArray<string>
}

/** Runs the plugin's own `checkConfig` on its decoded section, and fails with its issues under the entry's `config` path. */
const runPluginConfigCheck = (definition: PluginDefinition<unknown>, request: PluginRequest, config: unknown, options: PluginLoadOptions) => {
  const context = { configDirectory: options.configDirectory, models: options.models, providers: options.providers }
  const issues = definition.checkConfig?.(config, context) ?? []
  return issues.length === 0
    ? Effect.void
    : Effect.fail(
        new ConfigError({
          source: options.configSource,
          issues: issues.map((issue) => ({ path: formatPath([...request.yamlPath, "config", ...issue.path]), message: issue.message }))
        })
      )
}

/**
 * Checks a plugin entry without starting it: the package imports, is a
 * plugin for a supported SDK version, its YAML section decodes, and the
 * plugin's `checkConfig` finds no problem.
 */
export const checkPlugin = (
  request: PluginRequest,
  options: PluginLoadOptions
) =>
  Effect.gen(function* () {
    const definition = yield* importDefinition(options.importer, request)
    yield* checkSdkVersion(definition, request)
    const config = yield* decodePluginConfig(definition, request, options.configSource)
    yield* runPluginConfigCheck(definition, request, config, options)
  })

/**
 * Logs a plugin's failed build at debug level, with its cause, and returns the
 * error that names the entry, its package and the reason.
 */
const startFailure = (request: PluginRequest, config: unknown, cause: Cause.Cause<unknown>) => {
  const hideSecrets = makeSecretHider(request.config, config)
  const entry = formatPath(request.yamlPath)
  return Effect.logDebug("Plugin failed to start").pipe(
    Effect.annotateLogs({ plugin: request.instanceName, "plugin.package": request.packageName, error: hideSecrets(Cause.pretty(cause)) }),
    Effect.zipRight(
      Effect.fail(
        new PluginLoadError({
          plugin: request.instanceName,
          path: entry,
          message:
            `${entry} (${request.packageName}) failed to start: ${hideSecrets(failureReason(cause))}\n` +
            "Check its config section and that the services it connects to are reachable. " +
            "With logging.level set to debug, the log shows the stack trace.",
          cause
        })
      )
    )
  )
}

/** Loads one plugin into a new child scope of the current scope. */
export const loadPlugin = (
  request: PluginRequest,
  options: PluginLoadOptions
) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const sql = yield* SqlClient.SqlClient
    const parentScope = yield* Effect.scope

    const definition = yield* importDefinition(options.importer, request)
    yield* checkSdkVersion(definition, request)
    const config = yield* decodePluginConfig(definition, request, options.configSource)
    yield* runPluginConfigCheck(definition, request, config, options)

    const scope = yield* Scope.fork(parentScope, ExecutionStrategy.sequential)
    const hostContext = Context.make(HttpTransport, transport).pipe(
      Context.add(SqlClient.SqlClient, sql),
      Context.add(PluginHost, {
        instanceName: request.instanceName,
        packageName: request.packageName,
        configDirectory: options.configDirectory
      })
    )
    const built = yield* Effect.suspend(() => Layer.buildWithScope(definition.layer(config), scope)).pipe(
      Effect.provide(hostContext),
      Effect.catchAllCause((cause) =>
        Effect.gen(function* () {
          yield* Scope.close(scope, Exit.void)
          return yield* startFailure(request, config, cause)
        })
      )
    )
    const loaded: LoadedPlugin = {
      instanceName: request.instanceName,
      packageName: request.packageName,
      version: definition.version,
      instance: Context.get(built, Plugin),
      scope
    }
    yield* Effect.logInfo("Plugin loaded").pipe(
      Effect.annotateLogs({ plugin: request.instanceName, "plugin.package": request.packageName, "plugin.version": definition.version })
    )
    return loaded
  })
