/**
 * Reading `fluxen.yaml`: YAML parsing, `${VAR}` substitution, schema
 * decoding and the checks that span sections. Every failure becomes one
 * `ConfigError` listing all problems with their YAML paths.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, Schema } from "effect"
import * as Path from "node:path"
import { parseDocument } from "yaml"
import { ConfigError, issuesFromParseError, type ConfigIssue } from "./ConfigError.js"
import { FluxenConfig } from "./FluxenConfig.js"
import { formatPath, interpolateEnv, type MissingVariable } from "./interpolateEnv.js"

export interface LoadedConfig {
  readonly config: FluxenConfig
  /** The directory relative paths in the configuration are resolved against. */
  readonly directory: string
  readonly source: string
}

/** Finds aliases that lead back to themselves. */
const aliasCycles = (config: FluxenConfig): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  for (const name of Object.keys(config.models)) {
    const seen = new Set<string>([name])
    let current = config.models[name]?.alias
    while (current !== undefined) {
      if (seen.has(current)) {
        issues.push({ path: formatPath(["models", name, "alias"]), message: `The alias chain ${[...seen, current].join(" -> ")} loops.` })
        break
      }
      seen.add(current)
      current = config.models[current]?.alias
    }
  }
  return issues
}

const crossCheck = (config: FluxenConfig): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const declaredProviders = Object.keys(config.providers).join(", ") || "none"
  for (const [name, model] of Object.entries(config.models)) {
    const forms = [model.provider, model.deployments, model.alias].filter((value) => value !== undefined).length
    if (forms !== 1) {
      issues.push({
        path: formatPath(["models", name]),
        message: "Set exactly one of 'provider', 'deployments' or 'alias'."
      })
    }
    if (model.provider !== undefined && !(model.provider in config.providers)) {
      issues.push({
        path: formatPath(["models", name, "provider"]),
        message: `Unknown provider '${model.provider}'. Declared providers: ${declaredProviders}.`
      })
    }
    model.deployments?.forEach((deployment, index) => {
      if (!(deployment.provider in config.providers)) {
        issues.push({
          path: formatPath(["models", name, "deployments", index, "provider"]),
          message: `Unknown provider '${deployment.provider}'. Declared providers: ${declaredProviders}.`
        })
      }
    })
    if (model.alias !== undefined && !(model.alias in config.models)) {
      issues.push({ path: formatPath(["models", name, "alias"]), message: `Unknown model '${model.alias}'.` })
    }
    model.fallbacks.forEach((fallback, index) => {
      if (!(fallback in config.models)) {
        issues.push({ path: formatPath(["models", name, "fallbacks", index]), message: `Unknown model '${fallback}'.` })
      }
    })
  }
  issues.push(...aliasCycles(config))
  const pluginNames = new Set<string>()
  config.plugins.forEach((plugin, index) => {
    const name = plugin.name ?? plugin.use
    if (pluginNames.has(name)) {
      issues.push({
        path: formatPath(["plugins", index, "name"]),
        message: `The plugin name '${name}' is used twice; give one of the instances another 'name'.`
      })
    }
    pluginNames.add(name)
  })
  return issues
}

/** Parses and validates configuration text. */
export const parseConfig = (
  text: string,
  options: { readonly source: string; readonly directory: string; readonly env: Readonly<Record<string, string | undefined>> }
): Either.Either<LoadedConfig, ConfigError> => {
  const fail = (issues: Array<ConfigIssue>) => Either.left(new ConfigError({ source: options.source, issues }))

  const document = parseDocument(text, { prettyErrors: true })
  if (document.errors.length > 0) {
    return fail(document.errors.map((error) => ({ path: "", message: error.message })))
  }
  const missing: Array<MissingVariable> = []
  const raw = interpolateEnv(document.toJS() ?? {}, options.env, missing)
  if (missing.length > 0) {
    return fail(
      missing.map(({ path, variable }) => ({
        path,
        message: `The environment variable ${variable} is not set; set it, or write \${${variable}:-default}.`
      }))
    )
  }

  const decoded = Schema.decodeUnknownEither(FluxenConfig, { errors: "all", onExcessProperty: "error" })(raw)
  if (Either.isLeft(decoded)) {
    return fail(issuesFromParseError(decoded.left.issue, [], formatPath))
  }
  const issues = crossCheck(decoded.right)
  if (issues.length > 0) return fail(issues)
  return Either.right({ config: decoded.right, directory: options.directory, source: options.source })
}

/** Reads and validates a configuration file. */
export const loadConfigFile = (file: string, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const absolute = Path.resolve(file)
    const text = yield* fs.readFileString(absolute).pipe(
      Effect.mapError(
        (error) =>
          new ConfigError({ source: absolute, issues: [{ path: "", message: `The file cannot be read: ${error.message}` }] })
      )
    )
    return yield* parseConfig(text, { source: absolute, directory: Path.dirname(absolute), env })
  })
