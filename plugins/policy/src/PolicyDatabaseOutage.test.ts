/**
 * The policy hooks while the gateway's PostgreSQL database does not respond.
 * Each test reaches the real server through a TCP proxy of its own and
 * stops the proxy to cut the database off, never the server.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Logger, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import {
  buildPolicyPlugin,
  callRoute,
  createTestSchema,
  makeContext,
  makeTestRedisStore,
  migrateTestDatabase,
  testRedisUrl
} from "./testing/PolicyTesting.js"
import { startTcpProxy } from "@fluxen/sdk/testing"

const MASTER = "master-key-for-the-outage-tests"
const newKey = () => `fx-${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "").slice(0, 11)}`

const authorized = (key: string) =>
  makeContext({ promptTokensEstimate: 10, request: { max_tokens: 40 }, headers: { authorization: `Bearer ${key}` } })

/** Opens a fresh schema through a proxy, and returns the plugin's database with the proxy that cuts it off. */
const openThroughProxy = Effect.gen(function* () {
  const url = yield* createTestSchema
  const proxy = yield* startTcpProxy(Number(url.port || 5432))
  url.hostname = "127.0.0.1"
  url.port = String(proxy.port)
  const client = yield* Layer.build(PgClient.layer({ url: Redacted.make(url.toString()), connectTimeout: "1 second" }))
  yield* Effect.provide(migrateTestDatabase, client)
  return { sql: Context.get(client, SqlClient.SqlClient), proxy }
})

/** Builds the plugin on `sql`, with the key cache off so every request looks its key up. */
const buildOn = (sql: SqlClient.SqlClient, config: Record<string, unknown>) =>
  Effect.provideService(buildPolicyPlugin({ masterKey: MASTER, keyCacheTtlSeconds: 0, ...config }), SqlClient.SqlClient, sql)

describe("policy hooks while PostgreSQL is down", () => {
  it.scoped("admits a static key", () =>
    Effect.gen(function* () {
      const { sql, proxy } = yield* openThroughProxy
      const key = newKey()
      const { hooks } = yield* buildOn(sql, {
        keys: [{ key, name: "from-yaml", team: "ops" }],
        rateLimits: [{ scope: "team", name: "ops", requestsPerMinute: 2 }]
      })

      yield* proxy.stop
      const first = authorized(key)
      yield* hooks.beforeRequest!(first)
      yield* hooks.beforeRequest!(authorized(key))
      const third = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))

      expect(first.caller.keyId).toBe("static:from-yaml")
      expect(first.caller.team).toBe("ops")
      // The team's rate limit from the YAML still applies.
      expect(third._tag).toBe("LimitExceededError")
    })
  )

  // Live, because the read's timeout runs on the real clock.
  it.scopedLive("admits a static key when stalled", () =>
    Effect.gen(function* () {
      const { sql, proxy } = yield* openThroughProxy
      const key = newKey()
      const { hooks } = yield* buildOn(sql, { keys: [{ key, name: "from-yaml", team: "ops" }] })

      yield* proxy.pause
      const started = Date.now()
      const first = authorized(key)
      yield* hooks.beforeRequest!(first)
      const firstMs = Date.now() - started
      const second = authorized(key)
      yield* hooks.beforeRequest!(second)
      const bothMs = Date.now() - started

      expect(first.caller.keyId).toBe("static:from-yaml")
      expect(second.caller.keyId).toBe("static:from-yaml")
      // The first read waits out its one-second timeout, and the second does not read at all.
      expect(firstMs).toBeLessThan(3_000)
      expect(bothMs - firstMs).toBeLessThan(500)
    })
  )

  it.scoped("keeps team limits last read", () =>
    Effect.gen(function* () {
      const { sql, proxy } = yield* openThroughProxy
      const key = newKey()
      const { hooks, routes } = yield* buildOn(sql, { keys: [{ key, name: "from-yaml", team: "research" }] })
      const team = { name: "research", limits: { requests_per_minute: 1 } }
      const created = yield* callRoute(routes, "POST", "/v1/fluxen/admin/teams", { master: MASTER, body: team })

      yield* hooks.beforeRequest!(authorized(key))
      yield* proxy.stop
      const second = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))

      expect(Either.isRight(created)).toBe(true)
      expect(second._tag).toBe("LimitExceededError")
    })
  )

  it.scoped("rejects an admin API key", () =>
    Effect.gen(function* () {
      const { sql, proxy } = yield* openThroughProxy
      const { hooks, routes } = yield* buildOn(sql, {})
      const created = yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: { name: "from-api" } })
      const key = Either.getOrThrow(created).body as { key: string }

      yield* hooks.beforeRequest!(authorized(key.key))
      yield* proxy.stop
      const error = yield* Effect.flip(hooks.beforeRequest!(authorized(key.key)))

      expect(error._tag).toBe("PluginError")
    })
  )

  const seedFailures = [
    {
      failMode: "open",
      passes: true,
      warning: "Starting a budget counter from the usage table failed, so that budget is not checked for this request (redis.failMode: open)."
    },
    {
      failMode: "closed",
      passes: false,
      warning: "Starting a budget counter from the usage table failed, so the request was rejected with 429 (redis.failMode: closed)."
    }
  ] as const

  it.scoped.each(seedFailures)("seed warning for fail mode $failMode", ({ failMode, passes, warning }) => {
    const warnings: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        if (logLevel.label === "WARN") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
    )
    return Effect.gen(function* () {
      const { sql, proxy } = yield* openThroughProxy
      const { prefix } = yield* makeTestRedisStore()
      const key = newKey()
      const { hooks } = yield* buildOn(sql, {
        keys: [{ key, name: "budgeted", budgets: [{ period: "day", limitUsd: 10 }] }],
        pricing: { overrides: { "gpt-4.1-nano": { input: 10, output: 10 } } },
        redis: { url: testRedisUrl, keyPrefix: prefix, failMode }
      })

      // The budget's counter does not exist yet, so admission reads the usage table to start it.
      yield* proxy.stop
      const result = yield* Effect.either(hooks.beforeRequest!(authorized(key)))

      expect(Either.isRight(result)).toBe(passes)
      expect(warnings.filter((message) => message.startsWith("Starting a budget counter"))).toEqual([warning])
    }).pipe(Effect.provide(logger))
  })
})
