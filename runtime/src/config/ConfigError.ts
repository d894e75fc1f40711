import { ParseResult, Schema } from "effect"
import { secretValues, simplifyIssue } from "./simplifyIssue.js"

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

/** Describes a hidden value by its kind and size, so the reader can still tell what was written. */
const describeHidden = (value: unknown): string =>
  typeof value === "string"
    ? `a string of ${value.length} characters`
    : Array.isArray(value)
      ? "a list"
      : typeof value === "object"
        ? "an object"
        : `a ${typeof value}`

/**
 * Removes a secret value from a message. Strings and objects appear in
 * messages as JSON, and numbers and booleans as plain text after "actual" or "got".
 */
const hideValue = (message: string, value: unknown): string => {
  if (typeof value === "number" || typeof value === "boolean") {
    const text = String(value).replace(/[.+]/g, "\\$&")
    return message.replace(new RegExp(`\\b(actual|got) ${text}(?![\\w.])`, "g"), `$1 ${describeHidden(value)}`)
  }
  const json = JSON.stringify(value)
  if (json === undefined || json.length < 4) return message
  const hidden = message.split(json).join(describeHidden(value))
  return typeof value === "string" && value.length >= 4 ? hidden.split(value).join("***") : hidden
}

/** Describes a printed mapping or list by its number of entries. */
const describeShape = (text: string): string => {
  try {
    const value: unknown = JSON.parse(text)
    if (Array.isArray(value)) return value.length === 1 ? "a list of 1 item" : `a list of ${value.length} items`
    if (typeof value === "object" && value !== null) {
      const size = Object.keys(value).length
      return size === 1 ? "a mapping of 1 entry" : `a mapping of ${size} entries`
    }
  } catch {
    // Not JSON: described by its first character below.
  }
  return text.startsWith("[") ? "a list" : "a mapping"
}

/**
 * Replaces a mapping or list that a message prints after "actual" or "got" by
 * its size. Printed whole, it could carry secrets nested anywhere in it, such
 * as a plugin's keys under a `plugins:` section written as a mapping.
 */
const hideStructured = (message: string): string =>
  message.replace(/\b(actual|got) ([[{][\s\S]*)$/, (_match, word: string, text: string) => `${word} ${describeShape(text)}`)

/** Replaces the password of any URL in a message, e.g. a Redis URL given in a field that is not marked secret. */
export const hideUrlPasswords = (message: string): string => message.replace(/(:\/\/[^\s:@/"]*):[^\s@/"]+@/g, "$1:***@")

/**
 * Turns a schema decoding failure into issues whose paths start at `prefix`.
 * Messages show the offending value, except in fields that can hold a secret
 * (see `secretValues`), because configuration errors reach logs and terminals.
 */
export const issuesFromParseError = (
  issue: ParseResult.ParseIssue,
  prefix: ReadonlyArray<string | number>,
  formatPath: (path: ReadonlyArray<string | number>) => string
): Array<ConfigIssue> => {
  const secrets = secretValues(issue)
  const seen = new Set<string>()
  const issues: Array<ConfigIssue> = []
  for (const formatted of ParseResult.ArrayFormatter.formatIssueSync(simplifyIssue(issue))) {
    const keys = formatted.path.map((key) => (typeof key === "number" ? key : String(key)))
    // A missing first item means an empty list where at least one item is required (`NonEmptyArray`).
    const emptyList = formatted._tag === "Missing" && keys.at(-1) === 0
    const path = formatPath([...prefix, ...(emptyList ? keys.slice(0, -1) : keys)])
    const message = emptyList
      ? "Must contain at least one item."
      : hideUrlPasswords(hideStructured(secrets.reduce<string>(hideValue, formatted.message))).replace(
          /^is unexpected, expected: /,
          "Unknown key. Allowed keys: "
        )
    const key = `${path}\n${message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push({ path, message })
  }
  return issues
}
