/**
 * Decoding a configuration value whose `${VAR}` references may have turned
 * digits or `true`/`false` into a number or boolean (see `interpolateEnv`).
 * That conversion suits `port: ${PORT}`, but a field that expects a string,
 * such as an API key, a tenant id or an organization id made of digits,
 * rejects the number, and a number would lose leading zeros anyway. So a
 * converted value that fails to decode is tried again as its text.
 */
import { Either, ParseResult, Schema } from "effect"
import type { ConvertedValue } from "./interpolateEnv.js"

type Path = ReadonlyArray<PropertyKey>

const keyOf = (path: Path): string => JSON.stringify(path.map((key) => (typeof key === "symbol" ? String(key) : key)))

/** Returns a copy of `value` with `replacement` at `path`, copying only the objects and arrays along it. */
const withValueAt = (value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown => {
  if (path.length === 0) return replacement
  const [key, ...rest] = path
  if (Array.isArray(value) && typeof key === "number") {
    const copy = [...value]
    copy[key] = withValueAt(value[key], rest, replacement)
    return copy
  }
  if (typeof value === "object" && value !== null && typeof key === "string") {
    const record = value as Record<string, unknown>
    return { ...record, [key]: withValueAt(record[key], rest, replacement) }
  }
  return value
}

/** Returns the keys of the paths where decoding reported a problem. */
const failedPaths = (error: ParseResult.ParseError): Set<string> =>
  new Set(ParseResult.ArrayFormatter.formatIssueSync(error.issue).map((issue) => keyOf(issue.path)))

const decodeOptions = { errors: "all", onExcessProperty: "error" } as const

/**
 * Decodes `value` with `schema`, where `converted` lists the values of `value` that `${VAR}`
 * substitution converted, with paths relative to `value`. Each converted value that fails to
 * decode is replaced by its text, and stays replaced when the text decodes there. Returns the
 * result and the value it decoded, which later checks of the same section should read.
 */
export const decodeWithEnvText = <A, I>(
  schema: Schema.Schema<A, I>,
  value: unknown,
  converted: ReadonlyArray<ConvertedValue>
): { readonly decoded: Either.Either<A, ParseResult.ParseError>; readonly value: unknown } => {
  const decode = Schema.decodeUnknownEither(schema, decodeOptions)
  const first = decode(value)
  if (Either.isRight(first) || converted.length === 0) return { decoded: first, value }

  const failed = failedPaths(first.left)
  const retried = converted.filter((entry) => failed.has(keyOf(entry.path)))
  if (retried.length === 0) return { decoded: first, value }

  const asText = retried.reduce((current, entry) => withValueAt(current, entry.path, entry.text), value)
  const second = decode(asText)
  if (Either.isRight(second)) return { decoded: second, value: asText }

  // Where the text fails too, the number's message is the clearer one (a port out of range, say).
  const stillFailed = failedPaths(second.left)
  const reverted = retried.filter((entry) => stillFailed.has(keyOf(entry.path)))
  if (reverted.length === 0) return { decoded: second, value: asText }
  const mixed = reverted.reduce((current, entry) => withValueAt(current, entry.path, entry.value), asText)
  return { decoded: decode(mixed), value: mixed }
}

/** Returns the converted values at or below `prefix`, with paths relative to it, such as those of one plugin's `config:` section. */
export const convertedUnder = (converted: ReadonlyArray<ConvertedValue>, prefix: ReadonlyArray<string | number>): Array<ConvertedValue> =>
  converted.flatMap((entry) =>
    entry.path.length >= prefix.length && prefix.every((key, index) => entry.path[index] === key)
      ? [{ ...entry, path: entry.path.slice(prefix.length) }]
      : []
  )
