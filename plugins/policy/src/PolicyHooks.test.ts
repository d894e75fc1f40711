import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import type { GatewayError, RecordedUsage, RequestContext } from "@fluxen/sdk"
import { Effect, Either } from "effect"
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import {
  buildPolicyPlugin,
  callRoute,
  closedLoopbackPort,
  insertUsage,
  makeContext,
  makeTestRedisStore,
  policyTestDatabases,
  testRedisUrl
} from "./testing/PolicyTesting.js"

const MASTER = "master-key-for-the-hook-tests"
const newKey = () => `fx-${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "").slice(0, 11)}`

// gpt-4.1-nano at $10 per million input and output tokens: 10 prompt tokens
// and max_tokens 40 make a $0.0005 estimate.
const PRICES = { pricing: { overrides: { "gpt-4.1-nano": { input: 10, output: 10 } } } }
const ESTIMATE_USD = 0.0005

const authorized = (key: string, options: Parameters<typeof makeContext>[0] = {}) =>
  makeContext({ promptTokensEstimate: 10, request: { max_tokens: 40 }, ...options, headers: { authorization: `Bearer ${key}`, ...options.headers } })

const usage = (promptTokens: number, completionTokens: number) => ({
  promptTokens,
  completionTokens,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0
})

const recorded = (overrides: Partial<RecordedUsage>): RecordedUsage => ({
  status: "ok",
  httpStatus: 200,
  usage: usage(10, 40),
  estimated: false,
  costUsd: ESTIMATE_USD,
  ...overrides
})

const failure = (result: Either.Either<unknown, GatewayError>): GatewayError => {
  if (Either.isRight(result)) throw new Error("The hook admitted the request")
  return result.left
}

const spendOf = (routes: Parameters<typeof callRoute>[0], id: string) =>
  Effect.map(callRoute(routes, "GET", `/v1/fluxen/admin/keys/${id}/spend`, { master: MASTER }), (result) => {
    if (Either.isLeft(result)) throw new Error(result.left.message)
    return (result.right.body as { budgets: Array<{ scope: string; spent_usd: number; reserved_usd: number }> }).budgets
  })

describe.each(policyTestDatabases)("policy hooks on $name", (database) => {
  layer(database.layer, { timeout: "30 seconds" })((it) => {
    it.scoped("rejects a request without a key", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({})

        const error = yield* Effect.flip(hooks.beforeRequest!(makeContext({})))

        expect(error._tag).toBe("AuthenticationError")
        expect(error.message).toContain("Missing API key")
      })
    )

    it.scoped("rejects an unknown key without repeating it", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({})
        const unknown = newKey()

        for (const presented of [unknown, "sk-not-a-fluxen-key"]) {
          const error = yield* Effect.flip(hooks.beforeRequest!(authorized(presented)))
          expect(error._tag).toBe("AuthenticationError")
          expect(error.message).toBe("Invalid API key. Check the key you sent, or ask your Fluxen administrator for a new one.")
          expect(error.message).not.toContain(presented)
        }
      })
    )

    it.scoped("accepts a static key in either header", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          keys: [{ key, name: "app", team: "research", metadata: { app: "billing" } }]
        })

        const bearer = authorized(key)
        const apiKey = makeContext({ headers: { "x-api-key": key } })
        yield* hooks.beforeRequest!(bearer)
        yield* hooks.beforeRequest!(apiKey)

        for (const context of [bearer, apiKey]) {
          expect(context.caller.keyId).toBe("static:app")
          expect(context.caller.team).toBe("research")
          expect(context.caller.metadata).toEqual({ app: "billing" })
        }
      })
    )

    it.scoped("rejects a model outside the key's list", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "narrow", models: ["gpt-4o*", "gpt-4.1"] }] })

        const denied = yield* Effect.flip(hooks.beforeRequest!(authorized(key, { model: "gpt-4.1-nano" })))
        const allowed = yield* Effect.either(hooks.beforeRequest!(authorized(key, { model: "gpt-4o-mini" })))

        expect(denied._tag).toBe("PermissionDeniedError")
        expect(denied.message).toBe("The API key 'narrow' is not allowed to use the model 'gpt-4.1-nano'.")
        expect(Either.isRight(allowed)).toBe(true)
      })
    )

    it.scoped("passes anonymous requests when keys are optional", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({ requireKey: false, rateLimits: [{ scope: "global", requestsPerMinute: 1 }] })

        const first = makeContext({})
        yield* hooks.beforeRequest!(first)
        const second = yield* Effect.flip(hooks.beforeRequest!(makeContext({})))
        const invalid = yield* Effect.flip(hooks.beforeRequest!(authorized(newKey())))

        expect(first.caller.keyId).toBeNull()
        expect(first.responseHeaders["x-ratelimit-remaining-requests"]).toBe("0")
        expect(second._tag).toBe("LimitExceededError")
        expect(invalid._tag).toBe("AuthenticationError")
      })
    )

    it.scoped("rejects an expired key", () =>
      Effect.gen(function* () {
        const { hooks, routes } = yield* buildPolicyPlugin({ masterKey: MASTER })
        const created = yield* callRoute(routes, "POST", "/v1/fluxen/admin/keys", {
          master: MASTER,
          body: { name: "expired", expires_at: "2020-01-01T00:00:00Z" }
        })
        const secret = Either.getOrThrow(created).body as { key: string }

        const error = yield* Effect.flip(hooks.beforeRequest!(authorized(secret.key)))

        expect(error._tag).toBe("AuthenticationError")
        expect(error.message).toBe("The API key expired at 2020-01-01T00:00:00.000Z.")
      })
    )

    it.scoped("writes the rate limit headers", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          ...PRICES,
          keys: [{ key, name: "headers", limits: { requestsPerMinute: 10, tokensPerMinute: 1_000 } }],
          rateLimits: [{ scope: "model", name: "gpt-4.1-nano", requestsPerMinute: 100 }]
        })
        const context = authorized(key)

        yield* hooks.beforeRequest!(context)

        expect(context.responseHeaders).toEqual({
          "x-ratelimit-limit-requests": "10",
          "x-ratelimit-remaining-requests": "9",
          "x-ratelimit-reset-requests": "6s",
          "x-ratelimit-limit-tokens": "1000",
          "x-ratelimit-remaining-tokens": "950",
          "x-ratelimit-reset-tokens": "3s"
        })
      })
    )

    it.scoped("rejects over the request rate", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "slow", limits: { requestsPerMinute: 2 } }] })

        yield* hooks.beforeRequest!(authorized(key))
        yield* hooks.beforeRequest!(authorized(key))
        const error = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))

        expect(error._tag).toBe("LimitExceededError")
        if (error._tag === "LimitExceededError") {
          expect(error.kind).toBe("rate_limit")
          expect(error.retryAfterSeconds).toBeGreaterThan(29)
          expect(error.retryAfterSeconds).toBeLessThanOrEqual(30)
          expect(error.message).toContain("the key 'static:slow' allows 2 requests per minute")
          expect(error.headers?.["x-ratelimit-remaining-requests"]).toBe("0")
        }
      })
    )

    it.scoped("names the key it refuses", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "narrow", models: ["gpt-4o-mini"] }] })
        const context = authorized(key, { model: "gpt-4.1-nano" })

        const error = yield* Effect.flip(hooks.beforeRequest!(context))

        expect(error._tag).toBe("PermissionDeniedError")
        expect(context.caller.keyId).toBe("static:narrow")
      })
    )

    it.scoped("token count needs a key", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "narrow", models: ["gpt-4o-mini"] }] })

        const missing = yield* Effect.flip(hooks.beforeRequest!(makeContext({ endpoint: "count_tokens" })))
        const unknown = yield* Effect.flip(hooks.beforeRequest!(authorized(newKey(), { endpoint: "count_tokens" })))
        const otherModel = yield* Effect.flip(hooks.beforeRequest!(authorized(key, { endpoint: "count_tokens", model: "gpt-4.1-nano" })))

        expect(missing._tag).toBe("AuthenticationError")
        expect(unknown._tag).toBe("AuthenticationError")
        expect(otherModel._tag).toBe("PermissionDeniedError")
      })
    )

    it.scoped("token count skips budgets", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          ...PRICES,
          keys: [{ key, name: "counted", limits: { requestsPerMinute: 2, tokensPerMinute: 10 }, budgets: [{ period: "day", limitUsd: 0.000001 }] }]
        })

        const counts = [authorized(key, { endpoint: "count_tokens" }), authorized(key, { endpoint: "count_tokens" })]
        for (const context of counts) yield* hooks.beforeRequest!(context)
        for (const context of counts) yield* hooks.afterUsage!(context, recorded({ usage: undefined, costUsd: 0 }))

        expect(counts[0]!.caller.keyId).toBe("static:counted")
        expect(counts[1]!.caller.keyId).toBe("static:counted")
      })
    )

    it.scoped("token count keeps request rates", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "counted", limits: { requestsPerMinute: 2 } }] })

        yield* hooks.beforeRequest!(authorized(key, { endpoint: "count_tokens" }))
        yield* hooks.beforeRequest!(authorized(key, { endpoint: "count_tokens" }))
        const third = yield* Effect.flip(hooks.beforeRequest!(authorized(key, { endpoint: "count_tokens" })))

        expect(third._tag).toBe("LimitExceededError")
      })
    )

    it.scoped("rejects a request larger than the token limit", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "tiny", limits: { tokensPerMinute: 100 } }] })

        const error = yield* Effect.flip(hooks.beforeRequest!(authorized(key, { request: { max_tokens: 500 } })))

        expect(error._tag).toBe("LimitExceededError")
        expect(error.message).toContain("estimated at 510 tokens")
      })
    )

    it.scoped("corrects the token count with the reported usage", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "tokens", limits: { tokensPerMinute: 100 } }] })

        const first = authorized(key, { request: { max_tokens: 80 } })
        yield* hooks.beforeRequest!(first)
        const refused = yield* Effect.either(hooks.beforeRequest!(authorized(key, { request: { max_tokens: 80 } })))
        yield* hooks.afterUsage!(first, recorded({ usage: usage(10, 5) }))
        const second = authorized(key, { request: { max_tokens: 40 } })
        yield* hooks.beforeRequest!(second)

        expect(failure(refused)._tag).toBe("LimitExceededError")
        // 15 tokens used, then 50 estimated: 35 of 100 remain.
        expect(second.responseHeaders["x-ratelimit-remaining-tokens"]).toBe("35")
      })
    )

    it.scoped("starts a budget from the usage table", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const key = newKey()
        const { hooks, routes } = yield* buildPolicyPlugin({
          ...PRICES,
          masterKey: MASTER,
          keys: [{ key, name: "seeded", budgets: [{ period: "day", limitUsd: 0.001 }] }]
        })
        yield* insertUsage(sql, { requestId: randomUUID(), keyId: "static:seeded", costUsd: 0.0004, createdAt: new Date() })
        yield* insertUsage(sql, {
          requestId: randomUUID(),
          keyId: "static:seeded",
          costUsd: 0.5,
          createdAt: new Date(Date.now() - 2 * 86_400_000)
        })

        const first = authorized(key)
        yield* hooks.beforeRequest!(first)
        const second = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))
        const spend = yield* spendOf(routes, "static:seeded")

        expect(second._tag).toBe("LimitExceededError")
        if (second._tag === "LimitExceededError") expect(second.kind).toBe("quota")
        expect(second.message).toContain("spent $0.0004")
        expect(spend[0]!.spent_usd).toBeCloseTo(0.0004, 12)
        expect(spend[0]!.reserved_usd).toBeCloseTo(ESTIMATE_USD, 12)
      })
    )

    it.scoped("settles the real cost of a request", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks, routes } = yield* buildPolicyPlugin({
          ...PRICES,
          masterKey: MASTER,
          keys: [{ key, name: "settled", budgets: [{ period: "week", limitUsd: 1 }] }]
        })

        const ok = authorized(key)
        yield* hooks.beforeRequest!(ok)
        yield* hooks.afterUsage!(ok, recorded({ costUsd: 0.0002 }))
        const failed = authorized(key)
        yield* hooks.beforeRequest!(failed)
        yield* hooks.afterUsage!(failed, recorded({ status: "error", httpStatus: 502, usage: undefined, costUsd: null }))
        const unpriced = authorized(key)
        yield* hooks.beforeRequest!(unpriced)
        yield* hooks.afterUsage!(unpriced, recorded({ costUsd: null }))
        const spend = yield* spendOf(routes, "static:settled")

        // 0.0002 for the first, nothing for the failure, the estimate for the one without cost.
        expect(spend[0]!.spent_usd).toBeCloseTo(0.0002 + ESTIMATE_USD, 12)
        expect(spend[0]!.reserved_usd).toBe(0)
      })
    )

    it.scoped("counts a model budget for requests of every key", () =>
      Effect.gen(function* () {
        const first = newKey()
        const second = newKey()
        // A public name of its own, so usage rows of other tests do not count.
        const model = { model: "budgeted-alias", upstreamModel: "gpt-4.1-nano" }
        const { hooks } = yield* buildPolicyPlugin({
          ...PRICES,
          keys: [
            { key: first, name: "one" },
            { key: second, name: "two" }
          ],
          budgets: [{ scope: "model", name: "budgeted-alias", period: "month", limitUsd: 0.0008 }]
        })

        yield* hooks.beforeRequest!(authorized(first, model))
        const refused = yield* Effect.flip(hooks.beforeRequest!(authorized(second, model)))
        const otherModel = yield* Effect.either(hooks.beforeRequest!(authorized(second, { model: "gpt-4o-mini" })))

        expect(refused.message).toContain("monthly budget of the model 'budgeted-alias'")
        expect(Either.isRight(otherModel)).toBe(true)
      })
    )

    it.scoped("applies a team budget from the teams table", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks, routes } = yield* buildPolicyPlugin({ ...PRICES, masterKey: MASTER, keys: [{ key, name: "member", team: "ops" }] })
        yield* callRoute(routes, "POST", "/v1/fluxen/admin/teams", {
          master: MASTER,
          body: { name: "ops", budgets: [{ period: "day", limit_usd: 0.0006 }] }
        })

        yield* hooks.beforeRequest!(authorized(key))
        const refused = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))

        expect(refused.message).toContain("daily budget of the team 'ops'")
      })
    )

    it.scoped("estimates the prompt without the analyzer", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "guess", limits: { tokensPerMinute: 10_000 } }] })
        const context = makeContext({ headers: { authorization: `Bearer ${key}` }, request: { max_tokens: 100 } })

        yield* hooks.beforeRequest!(context)

        const promptGuess = Math.ceil(JSON.stringify(context.request).length / 4)
        expect(context.responseHeaders["x-ratelimit-remaining-tokens"]).toBe(String(10_000 - 100 - promptGuess))
      })
    )

    it.scoped("rejects unpriced models when configured to", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          unpricedModels: "reject",
          keys: [{ key, name: "strict", budgets: [{ period: "day", limitUsd: 1 }] }]
        })

        const error = yield* Effect.flip(hooks.beforeRequest!(authorized(key, { model: "in-house-model" })))

        expect(error._tag).toBe("PermissionDeniedError")
        expect(error.message).toContain("'in-house-model' has no price")
      })
    )

    it.scoped("posts the webhook at a warning fraction", () =>
      Effect.gen(function* () {
        const received: Array<unknown> = []
        const server = yield* Effect.acquireRelease(
          Effect.async<ReturnType<typeof createServer>>((resume) => {
            const created = createServer((request: IncomingMessage, response) => {
              let text = ""
              request.on("data", (chunk) => (text += chunk))
              request.on("end", () => {
                received.push(JSON.parse(text))
                response.writeHead(204).end()
              })
            })
            created.listen(0, "127.0.0.1", () => resume(Effect.succeed(created)))
          }),
          (created) =>
            Effect.async<void>((resume) => {
              created.close(() => resume(Effect.void))
            })
        )
        const port = (server.address() as AddressInfo).port
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          ...PRICES,
          webhookUrl: `http://127.0.0.1:${port}/budget`,
          keys: [{ key, name: "watched", budgets: [{ period: "day", limitUsd: 0.001, warnAt: [0.5, 0.9] }] }]
        })

        const context = authorized(key)
        yield* hooks.beforeRequest!(context)
        yield* hooks.afterUsage!(context, recorded({ costUsd: 0.0006 }))
        // Real timers, because the test clock of it.scoped does not advance by itself.
        for (let waited = 0; received.length === 0 && waited < 5_000; waited += 20) {
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        }

        expect(received).toHaveLength(1)
        expect(received[0]).toMatchObject({
          type: "fluxen.budget.threshold_reached",
          scope: "key",
          name: "static:watched",
          period: "day",
          threshold: 0.5,
          limit_usd: 0.001,
          spent_usd: 0.0006
        })
      })
    )

    it.scoped("skips settlement after a rejection", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({})
        const context: RequestContext = makeContext({})

        yield* Effect.either(hooks.beforeRequest!(context))
        yield* hooks.afterUsage!(context, recorded({ status: "error", httpStatus: 401, usage: undefined, costUsd: null }))

        expect(context.attributes.size).toBe(0)
      })
    )
  })
})

describe.each(policyTestDatabases.slice(0, 1))("policy hooks with Redis on $name", (database) => {
  layer(database.layer, { timeout: "30 seconds" })((it) => {
    it.scoped("shares a rate limit between two plugin instances", () =>
      Effect.gen(function* () {
        const { prefix } = yield* makeTestRedisStore()
        const key = newKey()
        const config = { keys: [{ key, name: "shared", limits: { requestsPerMinute: 3 } }], redis: { url: testRedisUrl, keyPrefix: prefix } }
        const first = yield* buildPolicyPlugin(config)
        const second = yield* buildPolicyPlugin(config)

        const a = authorized(key)
        const b = authorized(key)
        const c = authorized(key)
        yield* first.hooks.beforeRequest!(a)
        yield* second.hooks.beforeRequest!(b)
        yield* first.hooks.beforeRequest!(c)
        const refused = yield* Effect.flip(second.hooks.beforeRequest!(authorized(key)))

        expect([a, b, c].map((context) => context.responseHeaders["x-ratelimit-remaining-requests"])).toEqual(["2", "1", "0"])
        expect(refused._tag).toBe("LimitExceededError")
      })
    )

    it.scoped("fail mode open passes without Redis", () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(closedLoopbackPort)
        const key = newKey()
        const { hooks, routes } = yield* buildPolicyPlugin({
          masterKey: MASTER,
          keys: [{ key, name: "open", limits: { requestsPerMinute: 1 } }],
          redis: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 100, failMode: "open" }
        })

        const first = authorized(key)
        yield* hooks.beforeRequest!(first)
        yield* hooks.beforeRequest!(authorized(key))
        const status = yield* callRoute(routes, "GET", "/v1/fluxen/admin/status", { master: MASTER })

        expect(first.caller.keyId).toBe("static:open")
        expect(first.responseHeaders).toEqual({})
        expect(Either.getOrThrow(status).body).toMatchObject({ store: "redis", unchecked_admissions: 2, store_failures: 2 })
      })
    )

    it.scoped("metrics report unchecked admissions", () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(closedLoopbackPort)
        const key = newKey()
        const { hooks, metrics } = yield* buildPolicyPlugin({
          keys: [{ key, name: "open", limits: { requestsPerMinute: 1 } }],
          redis: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 100, failMode: "open" }
        })

        yield* hooks.beforeRequest!(authorized(key))
        yield* hooks.beforeRequest!(authorized(key))
        const byName = new Map(metrics().map((metric) => [metric.name, metric]))

        expect(byName.get("fluxen_policy_unchecked_admissions_total")?.type).toBe("counter")
        expect(byName.get("fluxen_policy_unchecked_admissions_total")?.samples).toEqual([{ value: 2 }])
        expect(byName.get("fluxen_policy_redis_up")?.type).toBe("gauge")
        expect(byName.get("fluxen_policy_redis_up")?.samples).toEqual([{ value: 0 }])
      })
    )

    it.scoped("metrics report Redis up", () =>
      Effect.gen(function* () {
        const { prefix } = yield* makeTestRedisStore()
        const key = newKey()
        const { hooks, metrics } = yield* buildPolicyPlugin({
          keys: [{ key, name: "checked", limits: { requestsPerMinute: 10 } }],
          redis: { url: testRedisUrl, keyPrefix: prefix }
        })

        yield* hooks.beforeRequest!(authorized(key))
        const byName = new Map(metrics().map((metric) => [metric.name, metric]))

        expect(byName.get("fluxen_policy_unchecked_admissions_total")?.samples).toEqual([{ value: 0 }])
        expect(byName.get("fluxen_policy_redis_up")?.samples).toEqual([{ value: 1 }])
      })
    )

    it.scoped("fail mode closed rejects without Redis", () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(closedLoopbackPort)
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({
          keys: [{ key, name: "closed", limits: { requestsPerMinute: 100 } }],
          redis: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 100, failMode: "closed" }
        })

        const error = yield* Effect.flip(hooks.beforeRequest!(authorized(key)))

        expect(error._tag).toBe("LimitExceededError")
        if (error._tag === "LimitExceededError") {
          expect(error.kind).toBe("rate_limit")
          expect(error.retryAfterSeconds).toBe(1)
        }
      })
    )
  })
})
