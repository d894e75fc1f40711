/**
 * `${VAR}` and `${VAR:-default}` substitution in the string values of a
 * parsed YAML document. Substituting after parsing keeps each value's YAML
 * path for error messages, and a value can never inject YAML structure.
 * `$${` stands for a literal `${`. A value that is one reference and
 * nothing else becomes a number or boolean when the substituted text reads
 * as one, so `port: ${PORT:-8080}` stays a number. Each such value is listed
 * in `converted` with its text, for fields that expect a string.
 */
export interface MissingVariable {
  readonly path: string
  readonly variable: string
}

/**
 * A value that a whole `${VAR}` reference turned into a number or boolean, with the text it
 * was substituted from, so that a field that expects a string can still get that text (see
 * `decodeWithEnvText`).
 */
export interface ConvertedValue {
  readonly path: ReadonlyArray<string | number>
  readonly value: number | boolean
  readonly text: string
}

const wholeReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/

const reference = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export const formatPath = (path: ReadonlyArray<string | number>): string =>
  path.reduce<string>(
    (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? key : `${text}.${key}`),
    ""
  )

export const interpolateEnv = (
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  missing: Array<MissingVariable>,
  path: Array<string | number> = [],
  converted: Array<ConvertedValue> = []
): unknown => {
  if (typeof value === "string") {
    const whole = wholeReference.test(value)
    const substituted = value.replace(reference, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === "$${") return "${"
      const found = env[name!]
      if (found !== undefined && found !== "") return found
      if (fallback !== undefined) return fallback
      missing.push({ path: formatPath(path), variable: name! })
      return ""
    })
    const number = whole && /^-?\d+(\.\d+)?$/.test(substituted) ? Number(substituted) : undefined
    const boolean = whole && (substituted === "true" || substituted === "false") ? substituted === "true" : undefined
    const convertedValue = number ?? boolean
    if (convertedValue !== undefined) {
      converted.push({ path, value: convertedValue, text: substituted })
      return convertedValue
    }
    return substituted
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, missing, [...path, index], converted))
  if (typeof value === "object" && value !== null) {
    const result: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) result[key] = interpolateEnv(item, env, missing, [...path, key], converted)
    return result
  }
  return value
}
