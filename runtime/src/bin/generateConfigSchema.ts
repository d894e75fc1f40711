#!/usr/bin/env node
/**
 * Writes `config/fluxen.schema.json`, the JSON Schema of `fluxen.yaml`, from
 * the Effect schema `FluxenConfig`. Run it with `npm run config-schema`
 * after changing the configuration schema; a test fails while the committed
 * file is stale.
 *
 * The schema describes the file as written, before `${VAR}` substitution.
 * Where a value must be a number, a boolean, one of a set of words or a
 * patterned name, a whole `${VAR}` or `${VAR:-default}` reference is also
 * accepted, so an editor does not flag `port: ${FLUXEN_PORT:-8080}`.
 */
import { JSONSchema, Schema } from "effect"
import { realpathSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import { FluxenConfig } from "../config/FluxenConfig.js"

type JsonObject = { [key: string]: unknown }

/** The committed output, relative to this file in `runtime/src/bin` or `runtime/dist/bin`. */
export const configSchemaPath = fileURLToPath(new URL("../../../config/fluxen.schema.json", import.meta.url))

const envReferenceName = "EnvReference"

// Same syntax as the whole-value reference in interpolateEnv.ts.
const envReference: JsonObject = {
  type: "string",
  pattern: "^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$",
  description: "A ${VAR} or ${VAR:-default} reference, replaced by the environment variable's value when the file is loaded."
}

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

const resolveReference = (schema: JsonObject, definitions: JsonObject): JsonObject => {
  const reference = schema.$ref
  if (typeof reference !== "string" || !reference.startsWith("#/$defs/")) return schema
  const target = definitions[reference.slice("#/$defs/".length)]
  return isObject(target) ? target : schema
}

/** Tells whether every string validates against `schema`, so that a `${VAR}` reference needs no extra branch. */
const acceptsAnyString = (schema: JsonObject, definitions: JsonObject): boolean => {
  const resolved = resolveReference(schema, definitions)
  if (Object.keys(resolved).every((key) => key === "$id" || key === "title" || key === "description")) return true
  if (resolved.type === "string") return resolved.pattern === undefined && resolved.enum === undefined
  const branches = resolved.anyOf
  return Array.isArray(branches) && branches.some((branch) => isObject(branch) && acceptsAnyString(branch, definitions))
}

const isObjectSchema = (schema: JsonObject, definitions: JsonObject): boolean => {
  const resolved = resolveReference(schema, definitions)
  return resolved.type === "object" || resolved.type === "array"
}

/** Lets a scalar value that is not a free string also be written as a `${VAR}` reference. */
const allowEnvReference = (schema: JsonObject, definitions: JsonObject): JsonObject => {
  if (isObjectSchema(schema, definitions)) return acceptEnvReferencesBelow(schema, definitions)
  if (acceptsAnyString(schema, definitions)) return schema
  return { anyOf: [schema, { $ref: `#/$defs/${envReferenceName}` }] }
}

/** Applies `allowEnvReference` to each value position of an object or array schema. */
const acceptEnvReferencesBelow = (schema: JsonObject, definitions: JsonObject): JsonObject => {
  const result: JsonObject = { ...schema }
  for (const key of ["properties", "patternProperties"] as const) {
    const members = schema[key]
    if (!isObject(members)) continue
    result[key] = Object.fromEntries(
      Object.entries(members).map(([name, member]) => [name, isObject(member) ? allowEnvReference(member, definitions) : member])
    )
  }
  for (const key of ["additionalProperties", "items"] as const) {
    const member = schema[key]
    if (isObject(member)) result[key] = allowEnvReference(member, definitions)
  }
  return result
}

// A document with one entry of each kind and the optional `admin` section, so
// that decoding it fills in the defaults of entries (models, deployments,
// plugins) and of `admin` as well as of the other sections.
const sampleDocument = {
  providers: { sample: { use: "package" } },
  models: { sample: { provider: "sample", deployments: [{ provider: "sample" }], retry: {} } },
  plugins: [{ use: "package" }],
  admin: { key: "sample-admin-key-0000" }
}

const isPlainObject = (value: unknown): value is JsonObject => isObject(value) && Object.getPrototypeOf(value) === Object.prototype

/** Finds the schema of the member `key` of an object schema: a named property, a pattern property or the additional-properties schema. */
const memberSchema = (objectSchema: JsonObject, key: string, definitions: JsonObject): JsonObject | undefined => {
  const resolved = resolveReference(objectSchema, definitions)
  if (isObject(resolved.properties) && isObject(resolved.properties[key])) return resolved.properties[key]
  if (isObject(resolved.patternProperties)) {
    for (const [pattern, schema] of Object.entries(resolved.patternProperties)) {
      if (isObject(schema) && new RegExp(pattern, "u").test(key)) return schema
    }
  }
  return isObject(resolved.additionalProperties) ? resolved.additionalProperties : undefined
}

/**
 * Sets `default` on each property that decoding filled in: `decoded` is the
 * sample decoded and encoded again, and `sample` what was written. A filled-in
 * section gets defaults on its leaves, not one object default.
 */
const setDefaults = (schema: JsonObject, decoded: unknown, sample: unknown, definitions: JsonObject): void => {
  if (Array.isArray(decoded) && Array.isArray(sample)) {
    const items = resolveReference(schema, definitions).items
    if (isObject(items)) decoded.forEach((item, index) => setDefaults(items, item, sample[index], definitions))
    return
  }
  if (!isPlainObject(decoded)) return
  const written = isPlainObject(sample) ? sample : {}
  for (const [key, value] of Object.entries(decoded)) {
    const member = memberSchema(schema, key, definitions)
    if (member === undefined) continue
    if (key in written || (isPlainObject(value) && Object.keys(value).length > 0)) {
      setDefaults(member, value, written[key], definitions)
    } else {
      member.default = value
    }
  }
}

/** Builds the JSON Schema of `fluxen.yaml` as a plain JSON value. */
export const makeConfigJsonSchema = (): JsonObject => {
  const generated = JSON.parse(JSON.stringify(JSONSchema.make(FluxenConfig))) as JsonObject
  const definitions = generated.$defs as JsonObject
  // Structs with an identifier annotation become definitions of their own, so they get references too.
  for (const [name, definition] of Object.entries(definitions)) {
    if (isObject(definition) && isObjectSchema(definition, definitions)) definitions[name] = acceptEnvReferencesBelow(definition, definitions)
  }
  const root = definitions.FluxenConfig as JsonObject

  // Durations and sizes encode to milliseconds and bytes. The defaults go on the
  // properties themselves, outside any `anyOf` added above, where editors look for them.
  const defaultsOf = (document: object) => Schema.encodeSync(FluxenConfig)(Schema.decodeUnknownSync(FluxenConfig)(document))
  const minimalDocument = { providers: {} }
  setDefaults(root, defaultsOf(minimalDocument), minimalDocument, definitions)
  setDefaults(root, defaultsOf(sampleDocument), sampleDocument, definitions)

  definitions[envReferenceName] = envReference
  return {
    $comment: "Generated by `npm run config-schema` from runtime/src/config/FluxenConfig.ts. Do not edit by hand.",
    ...generated
  }
}

/** Formats the schema as the committed file's text. */
export const formatConfigJsonSchema = (schema: JsonObject): string => `${JSON.stringify(schema, null, 2)}\n`

const isMainModule = (): boolean => {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    // argv[1] is not a file (for example under a test runner), so this module was imported.
    return false
  }
}

if (isMainModule()) {
  writeFileSync(configSchemaPath, formatConfigJsonSchema(makeConfigJsonSchema()))
  console.log(`Wrote ${configSchemaPath}`)
}
