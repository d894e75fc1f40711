/**
 * JSON Schema (as OpenAI tools and `response_format` carry it) converted to
 * Gemini's `Schema`, a subset of the OpenAPI 3.0 schema object. Gemini
 * rejects a request whose schema has a key outside that subset, so the
 * conversion keeps an allowlist and rewrites the common JSON Schema forms
 * that have an equivalent:
 *
 * | JSON Schema                               | Gemini `Schema`                                |
 * |-------------------------------------------|------------------------------------------------|
 * | `type: "string"`                          | `type: "STRING"` (upper case)                  |
 * | `type: ["string", "null"]`                | `type: "STRING", nullable: true`               |
 * | `anyOf`/`oneOf` with a `{type: "null"}`   | the other members, `nullable: true`            |
 * | `oneOf`                                   | `anyOf` ("any" is weaker than "exactly one")   |
 * | `allOf` with one member                   | that member, merged                            |
 * | `const: "x"` (a string)                   | `enum: ["x"]`                                  |
 * | `$ref: "#/$defs/X"` or `#/definitions/X`  | the definition, inlined                        |
 *
 * Dropped because Gemini has no such key: `additionalProperties`, `$schema`,
 * `$id`, `$defs`, `definitions`, `$comment`, `examples`, `not`, `if`/`then`/
 * `else`, `patternProperties`, `exclusiveMinimum`, `exclusiveMaximum`,
 * `multipleOf`, `uniqueItems`, `contains`, `readOnly`, `writeOnly`,
 * `deprecated`, and any other key not in {@link allowedKeys}. Also dropped:
 * `format` values other than those in {@link allowedFormats}, an `enum` with
 * non-string values, `allOf` with several members, and tuple-form `items`.
 * A recursive `$ref` is rejected, because Gemini's format has no references.
 */
import { InvalidRequestError } from "@fluxen/sdk"
import type { JsonObject } from "./GeminiTypes.js"

/** The keys of Gemini's `Schema` object (Gemini API v1beta). */
export const allowedKeys: ReadonlySet<string> = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "items",
  "minItems",
  "maxItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "propertyOrdering",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "anyOf",
  "default",
  "example"
])

/**
 * The `format` values the Gemini API accepts. The Gemini API (unlike
 * Vertex AI) rejects string formats such as `email` or `uri`.
 */
export const allowedFormats: ReadonlySet<string> = new Set(["enum", "date-time", "float", "double", "int32", "int64"])

type JsonRecord = Record<string, unknown>

const isRecord = (value: unknown): value is JsonRecord => typeof value === "object" && value !== null && !Array.isArray(value)

const isNullSchema = (value: unknown): boolean => isRecord(value) && value.type === "null"

interface ConversionState {
  /** The document root, for resolving local `$ref`s. */
  readonly root: JsonRecord
  /** The `$ref`s being expanded on the current path, to detect recursion. */
  readonly expanding: Set<string>
  /** The request field that contains the schema, for error messages. */
  readonly param: string
}

const invalid = (state: ConversionState, message: string): InvalidRequestError =>
  new InvalidRequestError({ message: `The schema in '${state.param}' is invalid for Gemini: ${message}`, param: state.param })

// Resolves `#/$defs/<name>` and `#/definitions/<name>` against the root.
const resolveRef = (ref: string, state: ConversionState): unknown => {
  const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref)
  if (match !== null) {
    const definitions = state.root[match[1]!]
    // JSON Pointer escapes: "~1" is "/" and "~0" is "~".
    const name = match[2]!.replace(/~1/g, "/").replace(/~0/g, "~")
    if (isRecord(definitions) && isRecord(definitions[name])) return definitions[name]
  }
  throw invalid(state, `the reference '${ref}' cannot be resolved. Only local '#/$defs/...' and '#/definitions/...' references are supported.`)
}

const convertType = (type: unknown, out: JsonRecord): void => {
  if (typeof type === "string") {
    if (type === "null") out.nullable = true
    else out.type = type.toUpperCase()
    return
  }
  if (!Array.isArray(type)) return
  const nonNull = type.filter((member): member is string => typeof member === "string" && member !== "null")
  if (nonNull.length < type.length) out.nullable = true
  if (nonNull.length === 1) out.type = nonNull[0]!.toUpperCase()
  else if (nonNull.length > 1) out.anyOf = nonNull.map((member) => ({ type: member.toUpperCase() }))
}

// Converts `anyOf`/`oneOf` members. A `{type: "null"}` member becomes `nullable`.
const convertAlternatives = (members: ReadonlyArray<unknown>, out: JsonRecord, state: ConversionState): void => {
  const rest = members.filter((member) => !isNullSchema(member))
  if (rest.length < members.length) out.nullable = true
  if (rest.length === 1) {
    Object.assign(out, convertNode(rest[0], state), out.nullable === true ? { nullable: true } : {})
  } else if (rest.length > 1) {
    out.anyOf = rest.map((member) => convertNode(member, state))
  }
}

const convertNode = (node: unknown, state: ConversionState): JsonRecord => {
  if (!isRecord(node)) return {}

  if (typeof node.$ref === "string") {
    const ref = node.$ref
    if (state.expanding.has(ref)) {
      throw invalid(state, `the reference '${ref}' is recursive, and Gemini's schema format has no references to express it.`)
    }
    state.expanding.add(ref)
    try {
      // Keywords next to `$ref` (a description, say) apply too.
      const { $ref: _ref, ...siblings } = node
      return { ...convertNode(resolveRef(ref, state), state), ...convertNode(siblings, state) }
    } finally {
      state.expanding.delete(ref)
    }
  }

  const out: JsonRecord = {}
  convertType(node.type, out)

  for (const [key, value] of Object.entries(node)) {
    if (key === "type" || !allowedKeys.has(key)) continue
    switch (key) {
      case "properties":
        // fromEntries defines own properties, so a property named "__proto__" stays a property.
        if (isRecord(value)) out.properties = Object.fromEntries(Object.entries(value).map(([name, property]) => [name, convertNode(property, state)]))
        break
      case "items":
        // A tuple (`items: [...]`) has no equivalent and is dropped.
        if (isRecord(value)) out.items = convertNode(value, state)
        break
      case "anyOf":
        if (Array.isArray(value)) convertAlternatives(value, out, state)
        break
      case "enum":
        if (Array.isArray(value) && value.every((member) => typeof member === "string")) out.enum = value
        break
      case "format":
        if (typeof value === "string" && allowedFormats.has(value)) out.format = value
        break
      default:
        out[key] = value
    }
  }

  if (Array.isArray(node.oneOf) && out.anyOf === undefined) convertAlternatives(node.oneOf, out, state)
  if (Array.isArray(node.allOf) && node.allOf.length === 1) Object.assign(out, convertNode(node.allOf[0], state))
  if (typeof node.const === "string" && out.enum === undefined) out.enum = [node.const]

  // Gemini rejects `required` names that are not declared properties.
  if (Array.isArray(out.required) && isRecord(out.properties)) {
    const declared = out.properties
    out.required = out.required.filter((name) => typeof name === "string" && Object.hasOwn(declared, name))
  }
  return out
}

/**
 * Converts a JSON Schema to Gemini's schema format. `param` names the
 * request field that contains it (e.g. `tools[0].function.parameters`) and
 * appears in the `InvalidRequestError` thrown for an unresolvable or
 * recursive `$ref`.
 */
export const toGeminiSchema = (schema: unknown, param: string): JsonObject => {
  const root = isRecord(schema) ? schema : {}
  return convertNode(root, { root, expanding: new Set(), param })
}
