import { parseConfig } from "@fluxen/runtime"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { configSchemaPath, formatConfigJsonSchema, makeConfigJsonSchema } from "../../../runtime/src/bin/generateConfigSchema.js"
import { interpolateEnv, type MissingVariable } from "../../../runtime/src/config/interpolateEnv.js"
import { validateJsonSchema } from "./validateJsonSchema.js"

type JsonObject = Record<string, any>

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url))
const exampleConfigPath = `${repositoryRoot}config/fluxen.yaml`
const exampleConfigText = readFileSync(exampleConfigPath, "utf8")
const committedSchemaText = readFileSync(configSchemaPath, "utf8")
const committedSchema = JSON.parse(committedSchemaText) as JsonObject
const rootSchema = committedSchema.$defs.FluxenConfig as JsonObject

/** Substitutes `${VAR}` references as the loader does, failing the test on a missing variable. */
const substitute = (document: unknown, env: Record<string, string>): unknown => {
  const missing: Array<MissingVariable> = []
  const result = interpolateEnv(document, env, missing)
  expect(missing, "variables without a value or a default").toEqual([])
  return result
}

const decodes = (yamlText: string, env: Record<string, string> = {}) =>
  Either.isRight(parseConfig(yamlText, { source: "case.yaml", directory: repositoryRoot, env }))

describe("config/fluxen.schema.json", () => {
  it("matches the generated schema", () => {
    expect(committedSchemaText, "config/fluxen.schema.json is stale: run `npm run config-schema` and commit the result").toBe(
      formatConfigJsonSchema(makeConfigJsonSchema())
    )
  })

  it("lists every top-level key of fluxen.yaml", () => {
    const document = parse(exampleConfigText) as JsonObject
    const schemaKeys = Object.keys(rootSchema.properties)
    for (const key of Object.keys(document)) {
      expect(schemaKeys, `top-level key '${key}' of config/fluxen.yaml`).toContain(key)
    }
  })

  it("lists every key of each fluxen.yaml section", () => {
    const document = parse(exampleConfigText) as JsonObject
    // Struct sections; `providers` and `models` are records whose keys are free names.
    const sections = Object.keys(document).filter((section) => rootSchema.properties[section]?.additionalProperties === false)
    expect(sections).toContain("server")
    for (const section of sections) {
      const sectionKeys = Object.keys(rootSchema.properties[section].properties)
      for (const key of Object.keys(document[section] ?? {})) {
        expect(sectionKeys, `key '${section}.${key}' of config/fluxen.yaml`).toContain(key)
      }
    }
  })

  it("accepts fluxen.yaml as written", () => {
    expect(validateJsonSchema(committedSchema, parse(exampleConfigText))).toEqual([])
  })

  it("accepts fluxen.yaml after substitution", () => {
    const environments: Array<Record<string, string>> = [
      {},
      {
        FLUXEN_HOST: "0.0.0.0",
        FLUXEN_PORT: "9090",
        DATABASE_URL: "postgres://fluxen:fluxen@postgres:5432/fluxen",
        FLUXEN_LOG_LEVEL: "debug",
        OPENAI_API_KEY: "sk-example"
      }
    ]
    for (const env of environments) {
      const substituted = substitute(parse(exampleConfigText), env)
      expect(validateJsonSchema(committedSchema, substituted), `environment ${JSON.stringify(env)}`).toEqual([])
      expect(decodes(exampleConfigText, env), `fluxen.yaml decodes with ${JSON.stringify(env)}`).toBe(true)
    }
  })

  it("writes durations and sizes as number or string", () => {
    const bounds = {
      TimerDuration: { minimum: 1, maximum: 2_147_483_647 },
      TimerDurationOrZero: { minimum: 0, maximum: 2_147_483_647 },
      ByteSize: {}
    }
    for (const [name, numberBounds] of Object.entries(bounds)) {
      const definition = committedSchema.$defs[name] as JsonObject
      expect(definition.anyOf, name).toEqual([{ type: "number", ...numberBounds }, { type: "string" }])
      expect(definition.description, name).toMatch(/text such as/)
    }
    expect(rootSchema.properties.server.properties.shutdownTimeout.$ref).toBe("#/$defs/TimerDurationOrZero")
    expect(rootSchema.properties.usage.properties.flushInterval.$ref).toBe("#/$defs/TimerDuration")
    expect(rootSchema.properties.server.properties.bodyLimit.$ref).toBe("#/$defs/ByteSize")
  })

  it("carries the decoder's defaults in milliseconds and bytes", () => {
    const loaded = parseConfig("providers: {}", { source: "minimal.yaml", directory: repositoryRoot, env: {} })
    if (Either.isLeft(loaded)) throw new Error(loaded.left.message)
    const config = loaded.right.config as unknown as JsonObject

    // Every value the decoder fills into a section appears as that property's default.
    const compare = (schema: JsonObject, value: JsonObject, path: string) => {
      for (const [key, member] of Object.entries(value)) {
        const property = schema.properties?.[key] as JsonObject | undefined
        expect(property, `schema property ${path}.${key}`).toBeDefined()
        if (typeof member === "object" && member !== null && !Array.isArray(member) && property!.properties !== undefined) {
          compare(property!, member, `${path}.${key}`)
        } else {
          expect(property!.default, `default of ${path}.${key}`).toEqual(member)
        }
      }
    }
    for (const section of ["server", "usage", "upstream", "routing", "logging"]) {
      compare(rootSchema.properties[section], config[section], section)
    }

    expect(rootSchema.properties.server.properties.shutdownTimeout.default).toBe(30_000)
    expect(rootSchema.properties.server.properties.bodyLimit.default).toBe(4 * 1_048_576)
    expect(rootSchema.properties.models.default).toEqual({})
    expect(rootSchema.properties.plugins.default).toEqual([])
    expect(rootSchema.properties.plugins.items.properties.failMode.default).toBe("open")
    expect(rootSchema.properties.plugins.items.properties.timeout.default).toBe(5_000)
    expect(rootSchema.properties.admin.properties.protectMetrics.default).toBe(false)
  })

  const cases: ReadonlyArray<{ readonly name: string; readonly yaml: string; readonly valid: boolean }> = [
    { name: "minimal file", yaml: "providers: {}", valid: true },
    { name: "unit durations and sizes", yaml: "server: { bodyLimit: 8 MiB, shutdownTimeout: 5 seconds }\nproviders: {}", valid: true },
    { name: "port from a reference", yaml: "server: { port: '${PORT:-9000}' }\nproviders: {}", valid: true },
    { name: "missing providers", yaml: "server: { port: 8080 }", valid: false },
    { name: "unknown top-level key", yaml: "cache: {}\nproviders: {}", valid: false },
    { name: "unknown section key", yaml: "server: { listen: 8080 }\nproviders: {}", valid: false },
    { name: "port as a word", yaml: "server: { port: eighty }\nproviders: {}", valid: false },
    { name: "port out of range", yaml: "server: { port: 70000 }\nproviders: {}", valid: false },
    { name: "zero batch size", yaml: "usage: { batchSize: 0 }\nproviders: {}", valid: false },
    { name: "zero insert timeout", yaml: "usage: { insertTimeout: 0 }\nproviders: {}", valid: false },
    { name: "fractional query timeout", yaml: "usage: { queryTimeout: 0.5 }\nproviders: {}", valid: false },
    { name: "longest insert timeout", yaml: "usage: { insertTimeout: 2147483647 }\nproviders: {}", valid: true },
    { name: "query timeout past 24.8 days", yaml: "usage: { queryTimeout: 2147483648 }\nproviders: {}", valid: false },
    { name: "timeouts as text", yaml: "usage: { insertTimeout: 45 seconds, queryTimeout: 2 minutes }\nproviders: {}", valid: true },
    { name: "zero flush interval", yaml: "usage: { flushInterval: 0 }\nproviders: {}", valid: false },
    { name: "zero idle timeout", yaml: "upstream: { idleTimeout: 0 }\nproviders: {}", valid: false },
    { name: "endless connect timeout", yaml: "upstream: { connectTimeout: .inf }\nproviders: {}", valid: false },
    { name: "keep-alive past 24.8 days", yaml: "upstream: { keepAlive: 2147483648 }\nproviders: {}", valid: false },
    { name: "zero plugin timeout", yaml: "providers: {}\nplugins: [{ use: x, timeout: 0 }]", valid: false },
    { name: "zero shutdown timeout", yaml: "server: { shutdownTimeout: 0 }\nproviders: {}", valid: true },
    { name: "negative shutdown timeout", yaml: "server: { shutdownTimeout: -1 }\nproviders: {}", valid: false },
    { name: "zero retry delays", yaml: "routing: { retry: { initialDelay: 0, maxDelay: 0 } }\nproviders: {}", valid: true },
    { name: "endless retry delay", yaml: "routing: { retry: { maxDelay: .inf } }\nproviders: {}", valid: false },
    { name: "zero cooldown", yaml: "routing: { cooldown: { duration: 0 } }\nproviders: {}", valid: false },
    { name: "zero provider idle timeout", yaml: "providers: { p: { use: x, idleTimeout: 0 } }", valid: false },
    { name: "unknown log level", yaml: "logging: { level: verbose }\nproviders: {}", valid: false },
    { name: "provider name with a space", yaml: "providers: { 'open ai': { use: x } }", valid: false },
    { name: "provider without use", yaml: "providers: { openai: { config: {} } }", valid: false },
    { name: "unknown plugin fail mode", yaml: "providers: {}\nplugins: [{ use: x, failMode: maybe }]", valid: false },
    { name: "empty deployment list", yaml: "providers: { p: { use: x } }\nmodels: { m: { deployments: [] } }", valid: false },
    { name: "protected metrics", yaml: "providers: {}\nadmin: { key: admin-key-0123456789, protectMetrics: true }", valid: true },
    { name: "protectMetrics as a word", yaml: "providers: {}\nadmin: { key: admin-key-0123456789, protectMetrics: sometimes }", valid: false },
    { name: "short admin key", yaml: "providers: {}\nadmin: { key: too-short }", valid: false },
    { name: "protectMetrics without a key", yaml: "providers: {}\nadmin: { protectMetrics: true }", valid: false }
  ]

  it.each(cases)("agrees with the decoder on $name", ({ yaml, valid }) => {
    const violations = validateJsonSchema(committedSchema, substitute(parse(yaml), {}))
    expect(violations.length === 0, `schema violations: ${JSON.stringify(violations)}`).toBe(valid)
    expect(decodes(yaml), "parseConfig accepts it").toBe(valid)
  })
})
