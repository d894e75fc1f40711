import { Schema } from "effect"

export const ConfigIssue = Schema.Struct({ path: Schema.String, message: Schema.String })
export type ConfigIssue = typeof ConfigIssue.Type

/** The configuration cannot be used; each issue names the YAML path of a bad value. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message() {
    const lines = this.issues.map((issue) => `  ${issue.path === "" ? "(top level)" : issue.path}: ${issue.message}`)
    return `Invalid configuration in ${this.source}:\n${lines.join("\n")}`
  }
}

/**
 * Replaces the offending string value in a message with its length, because a
 * bad value may be a secret (an API key given where the schema expected
 * something else) and configuration errors reach logs and terminals.
 */
const hideStrings = (message: string): string =>
  message.replace(/actual "(?:[^"\\]|\\.)*"/g, (quoted) => `actual a string of ${quoted.length - 9} characters`)

/** Turns a schema decoding failure into issues whose paths start at `prefix`; string values are not repeated. */
export const issuesFromParseError = (
  formatted: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>,
  prefix: ReadonlyArray<string | number>,
  formatPath: (path: ReadonlyArray<string | number>) => string
): Array<ConfigIssue> =>
  formatted.map((issue) => ({
    path: formatPath([...prefix, ...issue.path.map((key) => (typeof key === "number" ? key : String(key)))]),
    message: hideStrings(issue.message).replace(/^Expected undefined, actual .*$/, "Unexpected value")
  }))
