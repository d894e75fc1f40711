import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import type { GatewayError, PluginHttpResponse } from "@fluxen/sdk"
import { Effect, Either, HashMap, Logger } from "effect"
import { createHash } from "node:crypto"
import { buildPolicyPlugin, callRoute, insertUsage, makeContext, policyTestDatabases } from "./testing/PolicyTesting.js"

const MASTER = "master-key-for-the-admin-tests"
const STATIC_KEY = `fx-${"s".repeat(43)}`

const config = {
  masterKey: MASTER,
  keys: [{ key: STATIC_KEY, name: "from-yaml", team: "research" }]
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** Returns the response of a route call, failing the test when the route failed. */
const ok = (result: Either.Either<PluginHttpResponse, GatewayError>): PluginHttpResponse => {
  if (Either.isLeft(result)) throw new Error(`The route failed with ${result.left._tag}: ${result.left.message}`)
  return result.right
}

/** Returns the error of a route call, failing the test when the route succeeded. */
const failed = (result: Either.Either<PluginHttpResponse, GatewayError>): GatewayError => {
  if (Either.isRight(result)) throw new Error(`The route returned ${result.right.status}: ${JSON.stringify(result.right.body)}`)
  return result.left
}

const body = (response: PluginHttpResponse) => response.body as Record<string, any>

describe.each(policyTestDatabases)("admin API on $name", (database) => {
  layer(database.layer, { timeout: "30 seconds" })((it) => {
    it.scoped("rejects requests without the master key", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)

        const missing = failed(yield* callRoute(routes, "GET", "/v1/fluxen/admin/keys"))
        const wrong = failed(yield* callRoute(routes, "GET", "/v1/fluxen/admin/keys", { master: "not-the-master-key" }))
        const create = failed(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { body: { name: "x" } }))

        expect(missing._tag).toBe("AuthenticationError")
        expect(missing.message).toContain("Missing master key")
        expect(wrong._tag).toBe("AuthenticationError")
        expect(wrong.message).toBe("Invalid master key.")
        expect(create._tag).toBe("AuthenticationError")
      })
    )

    it.scoped("is disabled without a master key", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin({})

        const error = failed(yield* callRoute(routes, "GET", "/v1/fluxen/admin/keys", { master: MASTER }))

        expect(error._tag).toBe("AuthenticationError")
        expect(error.message).toContain("set masterKey")
      })
    )

    it.scoped("stores only the hash of a created key", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { routes } = yield* buildPolicyPlugin(config)

        const created = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: { name: "hashed" } }))
        const secret = body(created).key as string
        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM fluxen_policy_keys WHERE id = ${body(created).id}`

        expect(created.status).toBe(201)
        expect(secret).toMatch(/^fx-[A-Za-z0-9_-]{43}$/)
        expect(rows).toHaveLength(1)
        expect(rows[0]!.hash).toBe(sha256(secret))
        expect(rows[0]!.hash).toMatch(/^[0-9a-f]{64}$/)
        for (const value of Object.values(rows[0]!)) expect(JSON.stringify(value) ?? "").not.toContain(secret.slice(3))
      })
    )

    it.scoped("never lists a key or its hash", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)
        const created = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: { name: "listed" } }))
        const secret = body(created).key as string

        const list = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/keys", { master: MASTER }))
        const one = ok(yield* callRoute(routes, "GET", `/v1/fluxen/admin/keys/${body(created).id}`, { master: MASTER }))
        const text = JSON.stringify([list.body, one.body])

        expect(text).not.toContain(secret)
        expect(text).not.toContain(sha256(secret))
        expect(text).not.toContain(STATIC_KEY)
        expect(body(one).key).toBeUndefined()
        const ids = (body(list).data as Array<{ id: string; source: string }>).map((key) => `${key.source}:${key.id}`)
        expect(ids).toContain(`api:${body(created).id}`)
        expect(ids).toContain("config:static:from-yaml")
      })
    )

    it.scoped("names the invalid field", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [{ name: "x", budgets: [{ period: "day", limit_usd: -1 }] }, "budgets[0].limit_usd"],
          [{ name: "x", budgets: [{ period: "year", limit_usd: 1 }] }, "budgets[0].period"],
          [{ name: "x", limits: { requests_per_minute: 1.5 } }, "limits.requests_per_minute"],
          [{ name: "x", expires_at: "next tuesday" }, "expires_at"],
          [{ name: "" }, "name"],
          [{ name: "x", colour: "blue" }, "colour"]
        ]

        for (const [invalid, param] of cases) {
          const error = failed(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: invalid }))
          expect(error._tag).toBe("InvalidRequestError")
          if (error._tag === "InvalidRequestError") {
            expect(error.param).toBe(param)
            expect(error.message).toContain(`'${param}'`)
          }
        }
        const missing = failed(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER }))
        expect(missing.message).toBe("The request needs a JSON body.")
      })
    )

    it.scoped("updates a key and audits field names only", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { routes } = yield* buildPolicyPlugin(config)
        const created = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: { name: "audited", team: "t1" } }))
        const id = body(created).id as string
        const secret = body(created).key as string

        const updated = ok(
          yield* callRoute(routes, "PATCH", `/v1/fluxen/admin/keys/${id}`, {
            master: MASTER,
            body: {
              models: ["gpt-4o*"],
              budgets: [{ period: "month", limit_usd: 50, warn_at: [0.5] }],
              limits: { requests_per_minute: 60 },
              expires_at: "2099-01-01T00:00:00Z"
            }
          })
        )
        const audit = yield* sql<{ actor: string; action: string; target_id: string; changes: unknown }>`
          SELECT actor, action, target_id, changes FROM fluxen_policy_audit WHERE target_id = ${id} ORDER BY id`

        expect(body(updated).models).toEqual(["gpt-4o*"])
        expect(body(updated).budgets).toEqual([{ period: "month", limit_usd: 50, warn_at: [0.5] }])
        expect(body(updated).limits).toEqual({ requests_per_minute: 60 })
        expect(body(updated).expires_at).toBe("2099-01-01T00:00:00.000Z")
        expect(body(updated).team).toBe("t1")
        expect(audit.map((entry) => entry.action)).toEqual(["key.create", "key.update"])
        expect(audit.every((entry) => entry.actor === "master")).toBe(true)
        const changes = audit.map((entry) => (typeof entry.changes === "string" ? JSON.parse(entry.changes) : entry.changes))
        expect(changes[0]).toEqual(["name", "team"])
        expect(changes[1]).toEqual(["models", "budgets", "limits", "expires_at"])
        const auditText = JSON.stringify(audit)
        expect(auditText).not.toContain(secret)
        expect(auditText).not.toContain(sha256(secret))
      })
    )

    it.scoped("revokes a key so that it no longer authenticates", () =>
      Effect.gen(function* () {
        const { hooks, routes } = yield* buildPolicyPlugin(config)
        const created = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: { name: "short-lived" } }))
        const secret = body(created).key as string
        const id = body(created).id as string
        const request = () => makeContext({ headers: { authorization: `Bearer ${secret}` } })

        const before = yield* Effect.either(hooks.beforeRequest!(request()))
        const revoked = ok(yield* callRoute(routes, "DELETE", `/v1/fluxen/admin/keys/${id}`, { master: MASTER }))
        const after = yield* Effect.flip(hooks.beforeRequest!(request()))

        expect(Either.isRight(before)).toBe(true)
        expect(body(revoked).revoked_at).not.toBeNull()
        expect(after._tag).toBe("AuthenticationError")
        expect(after.message).toBe("The API key has been revoked.")
      })
    )

    it.scoped("returns 404 for an unknown key", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)

        for (const [method, path] of [
          ["GET", "/v1/fluxen/admin/keys/key_missing"],
          ["PATCH", "/v1/fluxen/admin/keys/key_missing"],
          ["DELETE", "/v1/fluxen/admin/keys/key_missing"],
          ["GET", "/v1/fluxen/admin/keys/key_missing/spend"]
        ] as const) {
          const response = ok(yield* callRoute(routes, method, path, { master: MASTER, body: { name: "x" } }))
          expect(response.status).toBe(404)
          expect(body(response).error.code).toBe("not_found")
        }
      })
    )

    it.scoped("keeps static keys read-only", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)

        const patch = failed(yield* callRoute(routes, "PATCH", "/v1/fluxen/admin/keys/static:from-yaml", { master: MASTER, body: { name: "y" } }))
        const remove = failed(yield* callRoute(routes, "DELETE", "/v1/fluxen/admin/keys/static:from-yaml", { master: MASTER }))
        const get = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/keys/static:from-yaml", { master: MASTER }))

        expect(patch.message).toContain("declared in the configuration file")
        expect(patch.message).not.toContain("fluxen.yaml")
        expect(remove.message).toContain("declared in the configuration file")
        expect(body(get).source).toBe("config")
        expect(body(get).team).toBe("research")
      })
    )

    it.scoped("creates, lists and changes teams", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)
        const team = { name: "research", budgets: [{ period: "day", limit_usd: 5 }], limits: { tokens_per_minute: 1000 } }

        const created = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/teams", { master: MASTER, body: team }))
        const duplicate = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/teams", { master: MASTER, body: team }))
        const patched = ok(
          yield* callRoute(routes, "PATCH", "/v1/fluxen/admin/teams/research", { master: MASTER, body: { metadata: { cost_center: "42" } } })
        )
        const list = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/teams", { master: MASTER }))

        expect(created.status).toBe(201)
        expect(body(created).budgets).toEqual([{ period: "day", limit_usd: 5 }])
        expect(duplicate.status).toBe(409)
        expect(body(duplicate).error.code).toBe("already_exists")
        expect(body(patched).metadata).toEqual({ cost_center: "42" })
        expect(body(patched).limits).toEqual({ tokens_per_minute: 1000 })
        expect((body(list).data as Array<{ name: string }>).map((entry) => entry.name)).toEqual(["research"])
      })
    )

    it.scoped("shows YAML teams read-only", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin({
          ...config,
          budgets: [{ scope: "team", name: "finance", period: "month", limitUsd: 50 }],
          rateLimits: [
            { scope: "team", name: "finance", requestsPerMinute: 60 },
            { scope: "team", name: "finance", requestsPerMinute: 30, tokensPerMinute: 1000 }
          ]
        })

        const one = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/teams/finance", { master: MASTER }))
        const list = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/teams", { master: MASTER }))
        const patch = failed(yield* callRoute(routes, "PATCH", "/v1/fluxen/admin/teams/finance", { master: MASTER, body: { metadata: {} } }))
        const create = ok(yield* callRoute(routes, "POST", "/v1/fluxen/admin/teams", { master: MASTER, body: { name: "finance" } }))

        expect(one.status).toBe(200)
        expect(body(one).source).toBe("config")
        expect(body(one).budgets).toEqual([{ period: "month", limit_usd: 50 }])
        expect(body(one).limits).toEqual({ requests_per_minute: 30, tokens_per_minute: 1000 })
        expect((body(list).data as Array<{ name: string; source: string }>).map((team) => `${team.source}:${team.name}`)).toContain("config:finance")
        expect(patch._tag).toBe("InvalidRequestError")
        expect(patch.message).toContain("declared in the configuration file")
        expect(patch.message).not.toContain("fluxen.yaml")
        expect(create.status).toBe(409)
        expect(body(create).error.message).toContain("declared in the configuration file")
      })
    )

    it.scoped("lists every accepted budget period", () =>
      Effect.gen(function* () {
        const { routes } = yield* buildPolicyPlugin(config)
        const invalid = { name: "x", budgets: [{ period: "year", limit_usd: 1 }] }

        const error = failed(yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body: invalid }))

        expect(error.message).toBe(`Invalid value for 'budgets[0].period': Expected "day", "week" or "month", actual "year"`)
      })
    )

    it.scoped("reports the memory store as unused", () =>
      Effect.gen(function* () {
        const annotations: Array<Record<string, unknown>> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make((entry) => {
            annotations.push(Object.fromEntries(HashMap.toEntries(entry.annotations)))
          })
        )
        const { routes } = yield* Effect.provide(buildPolicyPlugin(config), capture)

        const status = ok(yield* callRoute(routes, "GET", "/v1/fluxen/admin/status", { master: MASTER }))
        const started = annotations.find((entry) => entry["policy.store"] !== undefined)

        expect(body(status).store).toBe("memory")
        expect(body(status).store_connection).toBe("not used")
        expect(started?.["policy.redis_status"]).toBe("not used")
      })
    )

    it.scoped("reports spend per budget period", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { routes } = yield* buildPolicyPlugin({
          ...config,
          budgets: [{ scope: "global", period: "month", limitUsd: 100 }]
        })
        const created = ok(
          yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", {
            master: MASTER,
            body: { name: "spender", budgets: [{ period: "day", limit_usd: 1 }] }
          })
        )
        const id = body(created).id as string
        yield* insertUsage(sql, { requestId: "r-today", keyId: id, costUsd: 0.25, createdAt: new Date() })
        yield* insertUsage(sql, { requestId: "r-old", keyId: id, costUsd: 0.5, createdAt: new Date(Date.now() - 40 * 86_400_000) })

        const spend = ok(yield* callRoute(routes, "GET", `/v1/fluxen/admin/keys/${id}/spend`, { master: MASTER }))
        const budgets = body(spend).budgets as Array<Record<string, unknown>>

        expect(body(spend).key_id).toBe(id)
        expect(budgets.map((entry) => `${entry.scope}:${entry.period}`)).toEqual(["key:day", "global:month"])
        expect(budgets[0]!.spent_usd).toBeCloseTo(0.25, 9)
        expect(budgets[0]!.remaining_usd).toBeCloseTo(0.75, 9)
        expect(budgets[1]!.spent_usd).toBeCloseTo(0.25, 9)
        expect(budgets[0]!.period_start).toBe(new Date(new Date().setUTCHours(0, 0, 0, 0)).toISOString())
      })
    )
  })
})
