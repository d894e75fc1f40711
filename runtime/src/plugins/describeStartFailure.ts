/**
 * Describing a plugin whose layer failed to build, for an operator: one
 * line with the reason, and the full cause for the debug log. A plugin's
 * own error can quote its configuration (a URL with a password, a key it
 * sent), so both hide the plugin's secret values.
 */
import { Cause, Redacted } from "effect"
import { hideUrlPasswords } from "../config/ConfigError.js"
import { secretName } from "../config/simplifyIssue.js"

/** Values shorter than this are left in place, because replacing them would garble ordinary words. */
const MIN_HIDDEN_LENGTH = 4

/**
 * Collects the plugin's secret strings: `Redacted` values anywhere in the
 * decoded config, and values under keys named like a key, token or password
 * anywhere in the raw YAML section.
 */
const collectSecrets = (value: unknown, underSecretKey: boolean, found: Set<string>, seen: Set<object>): Set<string> => {
  if (Redacted.isRedacted(value)) return collectSecrets(Redacted.value(value), true, found, seen)
  if ((typeof value === "string" || typeof value === "number") && underSecretKey) found.add(String(value))
  if (typeof value !== "object" || value === null || seen.has(value)) return found
  seen.add(value)
  for (const [key, nested] of Object.entries(value)) {
    collectSecrets(nested, underSecretKey || secretName.test(key), found, seen)
  }
  return found
}

/** Returns a function that replaces the secret values of a plugin's config, and URL passwords, with `***`. */
export const makeSecretHider = (rawConfig: unknown, decodedConfig: unknown): ((text: string) => string) => {
  const secrets = collectSecrets(decodedConfig, false, collectSecrets(rawConfig, false, new Set(), new Set()), new Set())
  const hidden = [...secrets].filter((secret) => secret.length >= MIN_HIDDEN_LENGTH).sort((a, b) => b.length - a.length)
  return (text) => hideUrlPasswords(hidden.reduce((result, secret) => result.split(secret).join("***"), text))
}

const messageOf = (error: unknown): string | undefined => {
  if (typeof error === "string") return error
  if (typeof error !== "object" || error === null || !("message" in error)) return undefined
  return typeof error.message === "string" && error.message !== "" ? error.message : undefined
}

/** Returns the message of the error or defect that ended the build, on one line. */
export const failureReason = (cause: Cause.Cause<unknown>): string => {
  const message = messageOf(Cause.squash(cause)) ?? Cause.pretty(cause).split("\n")[0] ?? ""
  return message.replace(/\s*\n\s*/g, " ").trim()
}
