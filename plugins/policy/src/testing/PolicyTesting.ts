/**
 * Fixtures shared by the policy tests: a fresh SQLite file or PostgreSQL
 * schema with the usage and policy tables, a Redis store under a random key
 * prefix, request contexts, and a transport that sends webhooks with fetch.
 * Not part of the package build.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import {
  HttpTransport,
  Plugin,
  PluginHost,
  type CanonicalRequest,
  type Endpoint,
  type PluginRoute,
  type PluginRouteMethod,
  type RequestContext,
  type UpstreamResponse
} from "@fluxen/sdk"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import { createServer } from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
// NOTE: the runtime's package index does not export its usage migrations,
// so the tests import them from the source tree to get the real usage table.
import { runUsageMigrations } from "../../../../runtime/src/usage/migrations.js"
import policyPlugin from "../index.js"
import { runPolicyMigrations } from "../migrations.js"
import { makeRedisLimitStore, type RedisLimitStore } from "../RedisLimitStore.js"

export const testPostgresUrl = process.env.FLUXEN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
export const testRedisUrl = process.env.FLUXEN_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

export interface PolicyTestDatabase {
  readonly name: string
  /** Opens an empty database with the usage and policy tables; it is removed when the layer is released. */
  readonly layer: Layer.Layer<SqlClient.SqlClient, unknown>
}

/** Creates the usage and policy tables in the database of the current `SqlClient`. */
export const migrateTestDatabase = Effect.zipRight(runUsageMigrations, runPolicyMigrations)

const sqliteLayer: Layer.Layer<SqlClient.SqlClient, unknown> = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-policy-"))),
      (directory) => Effect.sync(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
    ),
    (directory) => SqliteClient.layer({ filename: NodePath.join(directory, "fluxen.db") })
  )
).pipe(Layer.tap((context) => Effect.provide(migrateTestDatabase, context)))

/**
 * Creates an empty PostgreSQL schema that is dropped when the scope closes,
 * and returns a URL whose `search_path` makes every table land in it. A
 * schema per test file keeps files that run in parallel apart.
 */
export const createTestSchema = Effect.gen(function* () {
  const schema = `fluxen_policy_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(testPostgresUrl) }))
  const sql = Context.get(admin, SqlClient.SqlClient)
  yield* Effect.acquireRelease(sql`CREATE SCHEMA ${sql(schema)}`, () => sql`DROP SCHEMA ${sql(schema)} CASCADE`.pipe(Effect.orDie))

  const url = new URL(testPostgresUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return url
})

const postgresLayer: Layer.Layer<SqlClient.SqlClient, unknown> = Layer.unwrapScoped(
  Effect.map(createTestSchema, (url) => PgClient.layer({ url: Redacted.make(url.toString()) }))
).pipe(Layer.tap((context) => Effect.provide(migrateTestDatabase, context)))

export const policyTestDatabases: ReadonlyArray<PolicyTestDatabase> = [
  { name: "SQLite", layer: sqliteLayer },
  { name: "PostgreSQL", layer: postgresLayer }
]

/** Returns a loopback port that was free a moment ago: a server of the test's own listened on it and closed. */
export const closedLoopbackPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Deletes every key under `prefix`, with SCAN and DEL; never other keys. */
export const deleteKeysWithPrefix = async (client: Redis, prefix: string): Promise<void> => {
  let cursor = "0"
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
    if (keys.length > 0) await client.del(...keys)
    cursor = next
  } while (cursor !== "0")
}

/** Opens a Redis store under a new key prefix; its keys are deleted when the scope closes. */
export const makeTestRedisStore = (
  options: { readonly url?: string; readonly prefix?: string; readonly commandTimeoutMs?: number; readonly reservationTtlMs?: number } = {}
): Effect.Effect<{ readonly store: RedisLimitStore; readonly prefix: string; readonly admin: Redis }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const url = options.url ?? testRedisUrl
    const prefix = options.prefix ?? `fluxen:test:policy:${randomUUID()}:`
    const admin = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true })
        client.on("error", () => undefined)
        client.connect().catch(() => undefined)
        return client
      }),
      (client) =>
        Effect.promise(async () => {
          if (client.status === "ready") await deleteKeysWithPrefix(client, prefix).catch(() => undefined)
          client.disconnect()
        })
    )
    const store = yield* makeRedisLimitStore({
      url: Redacted.make(url),
      keyPrefix: prefix,
      connectTimeoutMs: 2_000,
      commandTimeoutMs: options.commandTimeoutMs ?? 1_000,
      reservationTtlMs: options.reservationTtlMs ?? 60_000,
      onConnectionError: () => undefined
    })
    return { store, prefix, admin }
  })

/** Builds a request context as the runtime does, for calling hooks directly. */
export const makeContext = (options: {
  readonly headers?: Record<string, string>
  readonly model?: string
  readonly upstreamModel?: string
  readonly endpoint?: Endpoint
  readonly request?: Record<string, unknown>
  readonly promptTokensEstimate?: number
}): RequestContext => {
  const headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]))
  const model = options.model ?? "gpt-4.1-nano"
  return {
    requestId: randomUUID(),
    endpoint: options.endpoint ?? "chat",
    stream: false,
    startedAt: Date.now(),
    headers: { get: (name) => headers[name.toLowerCase()] },
    request: { model, messages: [{ role: "user", content: "Say hi" }], ...options.request } as unknown as CanonicalRequest,
    route: { requestedModel: model, provider: "openai", upstreamModel: options.upstreamModel ?? model },
    caller: { keyId: null, team: null, metadata: {} },
    record: options.promptTokensEstimate === undefined ? {} : { promptTokensEstimate: options.promptTokensEstimate },
    responseHeaders: {},
    attributes: new Map()
  }
}

/** A transport that sends with fetch, for the webhook tests; only loopback URLs are used. */
export const fetchTransport = Layer.succeed(HttpTransport, {
  send: async (request) => {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: typeof request.body === "string" ? request.body : Buffer.from(request.body) }),
      signal: request.signal
    })
    const bytes = new Uint8Array(await response.arrayBuffer())
    const result: UpstreamResponse = {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: (async function* () {
        yield bytes
      })(),
      bytes: async () => bytes,
      discard: () => undefined
    }
    return result
  }
})

/** Builds the plugin from a YAML-shaped config as the host does, in the current scope. */
export const buildPolicyPlugin = (config: unknown) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const decoded = yield* Schema.decodeUnknown(policyPlugin.configSchema)(config, { onExcessProperty: "error" })
    const hostContext = Context.make(SqlClient.SqlClient, sql).pipe(
      Context.add(PluginHost, { instanceName: "@fluxen/policy", packageName: "@fluxen/policy", configDirectory: "." })
    )
    const built = yield* Layer.build(policyPlugin.layer(decoded)).pipe(Effect.provide(Layer.merge(fetchTransport, Layer.succeedContext(hostContext))))
    const instance = Context.get(built, Plugin)
    return { hooks: instance.hooks!, routes: instance.routes ?? [], metrics: instance.metrics ?? (() => []) }
  })

export interface RouteCall {
  readonly body?: unknown
  /** Sent as `Authorization: Bearer <master>`. */
  readonly master?: string
}

/** Calls the route matching `method` and `path` as the host would, returning the response or the gateway error. */
export const callRoute = (routes: ReadonlyArray<PluginRoute>, method: PluginRouteMethod, path: string, call: RouteCall = {}) =>
  Effect.suspend(() => {
    for (const route of routes) {
      if (route.method !== method) continue
      const pattern = route.path.split("/")
      const actual = path.split("/")
      if (pattern.length !== actual.length) continue
      const params: Record<string, string> = {}
      const matches = pattern.every((segment, index) => {
        if (segment.startsWith(":")) {
          params[segment.slice(1)] = decodeURIComponent(actual[index]!)
          return true
        }
        return segment === actual[index]
      })
      if (!matches) continue
      const headers: Record<string, string> = call.master === undefined ? {} : { authorization: `Bearer ${call.master}` }
      return Effect.either(
        route.handle({ method, path, headers: { get: (name) => headers[name.toLowerCase()] }, query: new URLSearchParams(), params, body: call.body })
      )
    }
    return Effect.die(new Error(`No route matches ${method} ${path}`))
  })

/** Writes one row of the runtime's usage table with the columns the policy reads. */
export const insertUsage = (
  sql: SqlClient.SqlClient,
  row: { readonly requestId: string; readonly keyId: string | null; readonly costUsd: number; readonly createdAt: Date; readonly team?: string; readonly model?: string }
) => {
  const createdAt = sql.onDialectOrElse({ pg: () => row.createdAt as Date | number, orElse: () => row.createdAt.getTime() })
  return sql`INSERT INTO fluxen_usage ${sql.insert({
    request_id: row.requestId,
    created_at: createdAt,
    key_id: row.keyId,
    team: row.team ?? null,
    requested_model: row.model ?? "gpt-4.1-nano",
    resolved_model: row.model ?? "gpt-4.1-nano",
    endpoint: "chat",
    status: "ok",
    http_status: 200,
    stream: sql.onDialectOrElse({ pg: () => false as boolean | number, orElse: () => 0 }),
    usage_estimated: sql.onDialectOrElse({ pg: () => false as boolean | number, orElse: () => 0 }),
    cost_usd: row.costUsd,
    total_ms: 10
  })}`
}
