/**
 * Starts a complete Fluxen on a random loopback port for a test, with its
 * providers pointed at a replaying upstream and its usage in a fresh SQLite
 * file or a fresh PostgreSQL schema.
 */
import { parseConfig, startNodeGateway, UsageStore, type RunningGateway, type UsageRecord } from "@fluxen/runtime"
import { Cause, Effect, Either, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import pg from "pg"

export const postgresUrl = process.env.FLUXEN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export interface TestGatewayOptions {
  /** The upstream every provider points at. */
  readonly upstreamUrl: string
  /** Where usage goes; default SQLite. */
  readonly database?: "sqlite" | "postgres"
  /** YAML appended to the generated configuration. It must not repeat a generated top-level key, so use the options below for those sections. */
  readonly extraYaml?: string
  /** Settings added under `server:`, such as `{ bodyLimit: "1 KiB" }`. */
  readonly server?: Readonly<Record<string, string | number>>
  /** YAML lines added under `providers:`, indented by two spaces (e.g. an Anthropic provider). */
  readonly providersYaml?: string
  /** YAML lines added under `models:`, indented by two spaces. */
  readonly modelsYaml?: string
  /** Replaces the generated `plugins:` section. */
  readonly pluginsYaml?: string
  readonly env?: Record<string, string>
}

export interface TestGateway {
  readonly url: string
  /** The OpenAI SDK's `baseURL`. */
  readonly baseURL: string
  readonly running: RunningGateway
  /** Writes buffered usage, then returns every record, oldest first. */
  readonly usageRecords: () => Promise<ReadonlyArray<UsageRecord>>
  readonly close: () => Promise<void>
}

export const randomName = () => `fluxen_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

export const createSchema = async (schema: string) => {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  try {
    await client.query(`create schema ${schema}`)
  } finally {
    await client.end()
  }
}

export const dropSchema = async (schema: string) => {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  try {
    await client.query(`drop schema if exists ${schema} cascade`)
  } finally {
    await client.end()
  }
}

// Renders settings as YAML lines under a section. JSON is valid YAML, so values need no escaping.
const sectionLines = (entries: Readonly<Record<string, unknown>> | undefined): string =>
  Object.entries(entries ?? {})
    .map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)}\n`)
    .join("")

const defaultPlugins = `plugins:
  - use: "@fluxen/analyzer"
`

export const startTestGateway = async (options: TestGatewayOptions): Promise<TestGateway> => {
  const directory = mkdtempSync(Path.join(tmpdir(), "fluxen-test-"))
  let schema: string | undefined
  let databaseUrl = ""
  if (options.database === "postgres") {
    schema = randomName()
    await createSchema(schema)
    databaseUrl = `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
  }

  const yaml = `
server:
  host: 127.0.0.1
  port: 0
${sectionLines(options.server)}usage:
  databaseUrl: "${databaseUrl}"
  sqlitePath: ./usage.db
  flushInterval: 50
upstream:
  idleTimeout: 5 seconds
logging:
  level: warning
providers:
  openai:
    use: "@fluxen/provider-openai"
    config:
      baseUrl: ${options.upstreamUrl}/v1
      apiKey: sk-test-upstream-key
${options.providersYaml ?? ""}
models:
  gpt-4o-mini:
    provider: openai
    model: gpt-4o-mini-2024-07-18
  gpt-4.1-nano:
    provider: openai
  gpt-5-nano:
    provider: openai
  text-embedding-3-small:
    provider: openai
  gpt-3.5-turbo-instruct:
    provider: openai
  gpt-4.1:
    provider: openai
${options.modelsYaml ?? ""}
${options.pluginsYaml ?? defaultPlugins}
${options.extraYaml ?? ""}
`
  const loaded = parseConfig(yaml, { source: "test.yaml", directory, env: options.env ?? {} })
  if (Either.isLeft(loaded)) throw new Error(loaded.left.message)

  const logging = Layer.merge(Logger.minimumLogLevel(LogLevel.Warning), Layer.empty)
  const scope = Effect.runSync(Scope.make())
  const started = await Effect.runPromiseExit(Scope.extend(startNodeGateway(loaded.right), scope).pipe(Effect.provide(logging)))
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(directory, { recursive: true, force: true })
    if (schema !== undefined) await dropSchema(schema)
    throw new Error(Cause.pretty(started.cause))
  }
  const running = started.value

  const usageRecords = async () => {
    await Effect.runPromise(running.flushUsage)
    return Effect.runPromise(
      Effect.gen(function* () {
        const store = yield* UsageStore
        const records = yield* store.list({ from: new Date(0), to: new Date(Date.now() + 60_000), limit: 10_000 })
        return [...records].reverse()
      }).pipe(Effect.provide(running.services))
    )
  }

  return {
    url: running.url,
    baseURL: `${running.url}/v1`,
    running,
    usageRecords,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(directory, { recursive: true, force: true })
      if (schema !== undefined) await dropSchema(schema)
    }
  }
}
