#!/usr/bin/env node
/**
 * Writes `config/fluxen.schema.json`, the JSON Schema of `fluxen.yaml`, from
 * the Effect schema `FluxenConfig`. Run it with `npm run config-schema`
 * after changing the configuration schema; a test fails while the committed
 * file is stale.
 *
 * The schema describes the file as written, before `${VAR}` substitution:
 * wherever a value must be a number, a boolean, one of a set of words or a
 * patterned name, a whole `${VAR}` or `${VAR:-default}` reference is also
 * accepted, so an editor does not flag `port: ${FLUXEN_PORT:-8080}`.
 */
import { JSONSchema, Schema } from "effect"
import { realpathSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import { FluxenConfig, LoggingConfig, PluginEntry, ServerConfig, UpstreamConfig, UsageConfig } from "../config/FluxenConfig.js"

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

/** The defaults a struct fills in for `minimal`, in their encoded form (durations in milliseconds, sizes in bytes). */
const defaultsOf = <A, I>(schema: Schema.Schema<A, I>, minimal: object): JsonObject => {
  const encoded = Schema.encodeSync(schema)(Schema.decodeUnknownSync(schema)(minimal)) as JsonObject
  return Object.fromEntries(Object.entries(encoded).filter(([key]) => !(key in minimal)))
}

const setDefaults = (objectSchema: unknown, defaults: JsonObject): void => {
  if (!isObject(objectSchema) || !isObject(objectSchema.properties)) {
    throw new Error("The generated JSON Schema no longer has the expected shape; update generateConfigSchema.ts.")
  }
  for (const [key, value] of Object.entries(defaults)) {
    const property = objectSchema.properties[key]
    if (isObject(property)) property.default = value
  }
}

/** Builds the JSON Schema of `fluxen.yaml` as a plain JSON value. */
export const makeConfigJsonSchema = (): JsonObject => {
  const generated = JSON.parse(JSON.stringify(JSONSchema.make(FluxenConfig))) as JsonObject
  const definitions = generated.$defs as JsonObject
  const root = definitions.FluxenConfig as JsonObject
  const withReferences = acceptEnvReferencesBelow(root, definitions)
  const sections = withReferences.properties as JsonObject

  // Defaults go on the property itself, outside any `anyOf` added above, where editors look for them.
  setDefaults(sections.server, defaultsOf(ServerConfig, {}))
  setDefaults(sections.usage, defaultsOf(UsageConfig, {}))
  setDefaults(sections.upstream, defaultsOf(UpstreamConfig, {}))
  setDefaults(sections.logging, defaultsOf(LoggingConfig, {}))
  setDefaults((sections.plugins as JsonObject).items, defaultsOf(PluginEntry, { use: "package" }))
  setDefaults(withReferences, { models: {}, plugins: [] })

  definitions.FluxenConfig = withReferences
  definitions[envReferenceName] = envReference
  return {
    $comment: "Generated by `npm run config-schema` from runtime/src/config/FluxenConfig.ts. Do not edit by hand.",
    ...generated
  }
}

/** Formats the schema as the committed file's text. */
export const formatConfigJsonSchema = (schema: JsonObject): string => `${JSON.stringify(schema, null, 2)}\n`

const isMainModule = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href

if (isMainModule) {
  writeFileSync(configSchemaPath, formatConfigJsonSchema(makeConfigJsonSchema()))
  console.log(`Wrote ${configSchemaPath}`)
}
