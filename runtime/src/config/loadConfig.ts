/**
 * Reading `fluxen.yaml`: YAML parsing, `${VAR}` substitution, schema
 * decoding and the checks that span sections. Each step runs even when an
 * earlier one found problems, wherever its input is still known, and every
 * failure becomes one `ConfigError` listing all problems with their YAML
 * paths.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either } from "effect"
import * as Path from "node:path"
import { parseDocument } from "yaml"
import { ConfigError, issuesFromParseError, type ConfigIssue } from "./ConfigError.js"
import { crossCheck, sectionsOf, type ConfigSections } from "./crossCheck.js"
import { decodeSections } from "./decodeSections.js"
import { FluxenConfig } from "./FluxenConfig.js"
import { decodeWithEnvText } from "./decodeWithEnvText.js"
import { formatPath, interpolateEnv, type ConvertedValue, type MissingVariable } from "./interpolateEnv.js"

export interface LoadedConfig {
  readonly config: FluxenConfig
  /** The directory relative paths in the configuration are resolved against. */
  readonly directory: string
  readonly source: string
  /** The values that `${VAR}` substitution turned into numbers or booleans, for decoding the plugin sections. */
  readonly converted?: ReadonlyArray<ConvertedValue>
}

export interface ReadOptions {
  readonly source: string
  readonly directory: string
  readonly env: Readonly<Record<string, string | undefined>>
  /**
   * True when a running gateway reads the file again on SIGHUP. `env` is
   * then the environment the process started with, which a shell cannot
   * change, so a missing variable needs a restart.
   */
  readonly reload?: boolean
}

/** Everything one reading of a configuration found. */
export interface ConfigReading {
  /** Every problem found, or none when the configuration is valid. */
  readonly issues: ReadonlyArray<ConfigIssue>
  /** The decoded configuration, when there is no problem. */
  readonly config: FluxenConfig | undefined
  /** The entries that decoded, for the plugin checks. It is undefined when the YAML does not parse. */
  readonly sections: ConfigSections | undefined
  /** The YAML paths whose value reads an unset environment variable. */
  readonly unsetPaths: ReadonlyArray<string>
  /** The values that `${VAR}` substitution turned into numbers or booleans. */
  readonly converted: ReadonlyArray<ConvertedValue>
}

const isUnder = (path: string, prefix: string): boolean =>
  path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)

/**
 * Leaves out the problems found at or below a value that reads an unset
 * variable. That value was read as empty, so its problems would only
 * repeat the missing variable.
 */
export const dropIssuesUnder = (issues: ReadonlyArray<ConfigIssue>, paths: ReadonlyArray<string>): Array<ConfigIssue> =>
  issues.filter((issue) => !paths.some((path) => isUnder(issue.path, path)))

const missingVariableIssue = ({ path, variable }: MissingVariable, reload: boolean): ConfigIssue => ({
  path,
  message: reload
    ? `The environment variable ${variable} is not set in the environment Fluxen started with, and a reload cannot add it. ` +
      `Restart Fluxen with ${variable} set, or write \${${variable}:-default}.`
    : `The environment variable ${variable} is not set; set it, or write \${${variable}:-default}.`
})

/**
 * Parses configuration text and lists every problem. When the file does not
 * decode as a whole, the cross-section checks still run on the provider,
 * model and plugin entries that decode on their own.
 */
export const readConfig = (text: string, options: ReadOptions): ConfigReading => {
  const document = parseDocument(text, { prettyErrors: true })
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => ({ path: "", message: error.message }))
    return { issues, config: undefined, sections: undefined, unsetPaths: [], converted: [] }
  }
  const missing: Array<MissingVariable> = []
  const converted: Array<ConvertedValue> = []
  const interpolated = interpolateEnv(document.toJS() ?? {}, options.env, missing, [], converted)
  const unsetPaths = missing.map((variable) => variable.path)

  const { decoded, value: raw } = decodeWithEnvText(FluxenConfig, interpolated, converted)
  const sections = Either.isRight(decoded) ? sectionsOf(decoded.right) : decodeSections(raw)
  const schemaIssues = Either.isLeft(decoded) ? issuesFromParseError(decoded.left.issue, [], formatPath) : []
  const issues = [
    ...missing.map((variable) => missingVariableIssue(variable, options.reload === true)),
    ...dropIssuesUnder([...schemaIssues, ...crossCheck(sections)], unsetPaths)
  ]
  const config = Either.isRight(decoded) && issues.length === 0 ? decoded.right : undefined
  return { issues, config, sections, unsetPaths, converted }
}

/** Parses and validates configuration text. */
export const parseConfig = (text: string, options: ReadOptions): Either.Either<LoadedConfig, ConfigError> => {
  const reading = readConfig(text, options)
  if (reading.config === undefined) return Either.left(new ConfigError({ source: options.source, issues: reading.issues }))
  return Either.right({ config: reading.config, directory: options.directory, source: options.source, converted: reading.converted })
}

/** Reads a configuration file and lists every problem. It fails only when the file cannot be read. */
export const readConfigFile = (
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly reload?: boolean } = {}
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const absolute = Path.resolve(file)
    const text = yield* fs.readFileString(absolute).pipe(
      Effect.mapError((error) => {
        const missing = error._tag === "SystemError" && error.reason === "NotFound"
        const message = missing
          ? `The file does not exist. Pass the configuration file's path, such as config/fluxen.yaml (the example in the repository).`
          : `The file cannot be read: ${error.message}`
        return new ConfigError({ source: absolute, issues: [{ path: "", message }] })
      })
    )
    const directory = Path.dirname(absolute)
    return { source: absolute, directory, reading: readConfig(text, { source: absolute, directory, env, ...options }) }
  })

/** Reads and validates a configuration file. */
export const loadConfigFile = (
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly reload?: boolean } = {}
) =>
  Effect.flatMap(readConfigFile(file, env, options), ({ source, directory, reading }) =>
    reading.config === undefined
      ? Effect.fail(new ConfigError({ source, issues: reading.issues }))
      : Effect.succeed<LoadedConfig>({ config: reading.config, directory, source, converted: reading.converted })
  )
