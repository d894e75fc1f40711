import { describe, expect, layer } from "@effect/vitest"
import type { ListedModel, RequestHeaders } from "@fluxen/sdk"
import { Effect, Either } from "effect"
import { randomBytes } from "node:crypto"
import { buildPolicyPlugin, callRoute, makeContext, policyTestDatabases } from "./testing/PolicyTesting.js"

const MASTER = "master-key-for-the-model-list-tests"
const newKey = () => `fx-${randomBytes(32).toString("base64url")}`

const MODELS: ReadonlyArray<ListedModel> = [
  { id: "gpt-4o", provider: "openai" },
  { id: "gpt-4o-mini", provider: "openai" },
  { id: "gpt-4.1", provider: "openai" },
  { id: "gpt-4.1-nano", provider: "openai" },
  { id: "openai/gpt-5-nano", provider: "openai" },
  { id: "claude-sonnet-4-5", provider: "anthropic" }
]

const headersOf = (values: Record<string, string>): RequestHeaders => ({ get: (name) => values[name.toLowerCase()] })
const bearer = (key: string) => headersOf({ authorization: `Bearer ${key}` })
const idsOf = (models: ReadonlyArray<ListedModel>) => models.map((model) => model.id)

/** Creates a key through the admin API and returns the secret. */
const createKey = (routes: Parameters<typeof callRoute>[0], body: Record<string, unknown>) =>
  Effect.map(
    callRoute(routes, "POST", "/v1/fluxen/admin/keys", { master: MASTER, body }),
    (created) => Either.getOrThrow(created).body as { id: string; key: string }
  )

describe.each(policyTestDatabases)("policy model list on $name", (database) => {
  layer(database.layer, { timeout: "30 seconds" })((it) => {
    it.scoped("missing key gets 401", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({})

        const error = yield* Effect.flip(hooks.listModels!(headersOf({}), MODELS))

        expect(error._tag).toBe("AuthenticationError")
        expect(error.message).toContain("Missing API key")
      })
    )

    it.scoped("unknown key gets 401", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({})

        for (const presented of [newKey(), "sk-not-a-fluxen-key"]) {
          const error = yield* Effect.flip(hooks.listModels!(bearer(presented), MODELS))
          expect(error._tag).toBe("AuthenticationError")
          expect(error.message).toBe("Invalid API key. Check the key you sent, or ask your Fluxen administrator for a new one.")
        }
      })
    )

    it.scoped("revoked and expired keys get 401", () =>
      Effect.gen(function* () {
        const { hooks, routes } = yield* buildPolicyPlugin({ masterKey: MASTER })
        const revoked = yield* createKey(routes, { name: "revoked" })
        const expired = yield* createKey(routes, { name: "expired", expires_at: "2020-01-01T00:00:00Z" })
        yield* callRoute(routes, "DELETE", `/v1/fluxen/admin/keys/${revoked.id}`, { master: MASTER })

        const revokedError = yield* Effect.flip(hooks.listModels!(bearer(revoked.key), MODELS))
        const expiredError = yield* Effect.flip(hooks.listModels!(bearer(expired.key), MODELS))

        expect(revokedError._tag).toBe("AuthenticationError")
        expect(revokedError.message).toBe("The API key has been revoked.")
        expect(expiredError._tag).toBe("AuthenticationError")
        expect(expiredError.message).toBe("The API key expired at 2020-01-01T00:00:00.000Z.")
      })
    )

    it.scoped("unrestricted key lists every model", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "wide" }] })

        const listed = yield* hooks.listModels!(bearer(key), MODELS)

        expect(idsOf(listed)).toEqual(idsOf(MODELS))
      })
    )

    it.scoped("restricted key lists its models", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "narrow", models: ["gpt-4o*", "gpt-4.1", "openai/*"] }] })

        const viaBearer = yield* hooks.listModels!(bearer(key), MODELS)
        const viaApiKey = yield* hooks.listModels!(headersOf({ "x-api-key": key }), MODELS)

        expect(idsOf(viaBearer)).toEqual(["gpt-4o", "gpt-4o-mini", "gpt-4.1", "openai/gpt-5-nano"])
        expect(idsOf(viaApiKey)).toEqual(idsOf(viaBearer))
      })
    )

    it.scoped("created key lists its models", () =>
      Effect.gen(function* () {
        const { hooks, routes } = yield* buildPolicyPlugin({ masterKey: MASTER })
        const created = yield* createKey(routes, { name: "created", models: ["claude-*"] })

        const listed = yield* hooks.listModels!(bearer(created.key), MODELS)

        expect(idsOf(listed)).toEqual(["claude-sonnet-4-5"])
      })
    )

    it.scoped("list agrees with chat admission", () =>
      Effect.gen(function* () {
        const key = newKey()
        const { hooks } = yield* buildPolicyPlugin({ keys: [{ key, name: "narrow", models: ["gpt-4o*", "gpt-4.1", "openai/*"] }] })

        const listed = idsOf(yield* hooks.listModels!(bearer(key), MODELS))
        for (const model of idsOf(MODELS)) {
          const admitted = yield* Effect.either(hooks.beforeRequest!(makeContext({ model, headers: { authorization: `Bearer ${key}` } })))
          expect(Either.isRight(admitted), model).toBe(listed.includes(model))
        }
      })
    )

    it.scoped("optional keys: anonymous lists all", () =>
      Effect.gen(function* () {
        const { hooks } = yield* buildPolicyPlugin({ requireKey: false })

        const anonymous = yield* hooks.listModels!(headersOf({}), MODELS)
        const invalid = yield* Effect.flip(hooks.listModels!(bearer(newKey()), MODELS))

        expect(idsOf(anonymous)).toEqual(idsOf(MODELS))
        expect(invalid._tag).toBe("AuthenticationError")
      })
    )
  })
})
