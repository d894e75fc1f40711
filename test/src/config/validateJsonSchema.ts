/**
 * A JSON Schema validator for the keywords that `config/fluxen.schema.json`
 * uses, so tests can check YAML documents against the committed schema
 * without a validator dependency. It throws on any keyword it does not
 * implement, so a schema that gains one fails loudly instead of passing
 * unchecked.
 */

type JsonObject = { readonly [key: string]: unknown }

export interface SchemaViolation {
  /** The path of the offending value, such as `server.port` or `plugins[0].failMode`. */
  readonly path: string
  readonly message: string
}

// Keywords that carry documentation only.
const annotationKeywords = new Set(["$schema", "$id", "$comment", "$defs", "title", "description", "default"])

const checkedKeywords = new Set([
  "$ref",
  "type",
  "enum",
  "pattern",
  "minLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "propertyNames",
  "items",
  "minItems",
  "maxItems",
  "anyOf",
  "allOf"
])

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

const joinPath = (path: string, key: string | number): string => {
  if (typeof key === "number") return `${path}[${key}]`
  if (path === "") return key
  return `${path}.${key}`
}

const typeMatches = (type: unknown, value: unknown): boolean => {
  switch (type) {
    case "string":
      return typeof value === "string"
    case "number":
      return typeof value === "number" && Number.isFinite(value)
    case "integer":
      return typeof value === "number" && Number.isInteger(value)
    case "boolean":
      return typeof value === "boolean"
    case "null":
      return value === null
    case "array":
      return Array.isArray(value)
    case "object":
      return isObject(value)
    default:
      throw new Error(`validateJsonSchema does not implement the type ${JSON.stringify(type)}.`)
  }
}

/** Lists every violation of the schema `root` by `value`. An empty list means the value is valid. */
export const validateJsonSchema = (root: JsonObject, value: unknown): Array<SchemaViolation> => {
  const definitions = isObject(root.$defs) ? root.$defs : {}

  const resolve = (reference: unknown): JsonObject => {
    const prefix = "#/$defs/"
    if (typeof reference !== "string" || !reference.startsWith(prefix)) {
      throw new Error(`validateJsonSchema only resolves ${prefix} references, got ${JSON.stringify(reference)}.`)
    }
    const target = definitions[reference.slice(prefix.length)]
    if (!isObject(target)) throw new Error(`The schema has no definition for ${reference}.`)
    return target
  }

  const validate = (schema: JsonObject, value: unknown, path: string): Array<SchemaViolation> => {
    const violations: Array<SchemaViolation> = []
    const fail = (message: string) => violations.push({ path, message })

    for (const keyword of Object.keys(schema)) {
      if (!annotationKeywords.has(keyword) && !checkedKeywords.has(keyword)) {
        throw new Error(`validateJsonSchema does not implement the keyword ${keyword} (at ${path || "the root"}).`)
      }
    }

    if (schema.$ref !== undefined) violations.push(...validate(resolve(schema.$ref), value, path))
    if (schema.type !== undefined && !typeMatches(schema.type, value)) {
      fail(`expected ${String(schema.type)}, got ${JSON.stringify(value)}`)
      return violations
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
      fail(`expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`)
    }
    if (typeof schema.pattern === "string" && typeof value === "string" && !new RegExp(schema.pattern, "u").test(value)) {
      fail(`${JSON.stringify(value)} does not match ${schema.pattern}`)
    }
    // JSON Schema counts string length in Unicode code points.
    if (typeof schema.minLength === "number" && typeof value === "string" && [...value].length < schema.minLength) {
      fail(`${JSON.stringify(value)} is shorter than ${schema.minLength} characters`)
    }
    if (typeof value === "number") {
      if (typeof schema.minimum === "number" && value < schema.minimum) fail(`${value} is below the minimum ${schema.minimum}`)
      if (typeof schema.maximum === "number" && value > schema.maximum) fail(`${value} is above the maximum ${schema.maximum}`)
      if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
        fail(`${value} is not above ${schema.exclusiveMinimum}`)
      }
    }
    if (Array.isArray(schema.allOf)) {
      for (const branch of schema.allOf) violations.push(...validate(branch as JsonObject, value, path))
    }
    if (Array.isArray(schema.anyOf)) {
      const branchViolations = schema.anyOf.map((branch) => validate(branch as JsonObject, value, path))
      if (!branchViolations.some((list) => list.length === 0)) {
        fail(`matches none of the allowed forms: ${branchViolations.map((list) => list.map((item) => item.message).join(", ")).join(" | ")}`)
      }
    }
    if (Array.isArray(value) && typeof schema.minItems === "number" && value.length < schema.minItems) {
      fail(`expected at least ${schema.minItems} items, got ${value.length}`)
    }
    if (Array.isArray(value) && typeof schema.maxItems === "number" && value.length > schema.maxItems) {
      fail(`expected at most ${schema.maxItems} items, got ${value.length}`)
    }
    if (Array.isArray(value) && isObject(schema.items)) {
      value.forEach((item, index) => violations.push(...validate(schema.items as JsonObject, item, joinPath(path, index))))
    }
    if (isObject(value)) violations.push(...validateObject(schema, value, path))
    return violations
  }

  const validateObject = (schema: JsonObject, value: JsonObject, path: string): Array<SchemaViolation> => {
    const violations: Array<SchemaViolation> = []
    const properties = isObject(schema.properties) ? schema.properties : {}
    const patternProperties = isObject(schema.patternProperties) ? schema.patternProperties : {}

    if (Array.isArray(schema.required)) {
      for (const key of schema.required as Array<string>) {
        if (!(key in value)) violations.push({ path, message: `the required property ${key} is missing` })
      }
    }
    for (const [key, member] of Object.entries(value)) {
      const memberPath = joinPath(path, key)
      if (isObject(schema.propertyNames)) violations.push(...validate(schema.propertyNames, key, memberPath))

      let matched = false
      if (isObject(properties[key])) {
        matched = true
        violations.push(...validate(properties[key], member, memberPath))
      }
      for (const [pattern, patternSchema] of Object.entries(patternProperties)) {
        if (new RegExp(pattern, "u").test(key)) {
          matched = true
          violations.push(...validate(patternSchema as JsonObject, member, memberPath))
        }
      }
      if (matched) continue
      if (schema.additionalProperties === false) {
        violations.push({ path: memberPath, message: "the property is not allowed here" })
      } else if (isObject(schema.additionalProperties)) {
        violations.push(...validate(schema.additionalProperties, member, memberPath))
      }
    }
    return violations
  }

  return validate(root, value, "")
}
