/**
 * `${VAR}` and `${VAR:-default}` substitution in the string values of a
 * parsed YAML document. Substituting after parsing keeps each value's YAML
 * path for error messages, and a value can never inject YAML structure.
 * `$${` stands for a literal `${`. A value that is one reference and
 * nothing else becomes a number or boolean when the substituted text reads
 * as one, so `port: ${PORT:-8080}` stays a number.
 */
export interface MissingVariable {
  readonly path: string
  readonly variable: string
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
  path: Array<string | number> = []
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
    if (whole && /^-?\d+(\.\d+)?$/.test(substituted)) return Number(substituted)
    if (whole && (substituted === "true" || substituted === "false")) return substituted === "true"
    return substituted
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, missing, [...path, index]))
  if (typeof value === "object" && value !== null) {
    const result: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) result[key] = interpolateEnv(item, env, missing, [...path, key])
    return result
  }
  return value
}
