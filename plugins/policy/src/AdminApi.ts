/**
 * The admin API under `/v1/fluxen/admin/`, guarded by the master key
 * (`Authorization: Bearer <masterKey>`):
 *
 *   POST   /keys             create a key (the response shows the key, once)
 *   GET    /keys             list keys (static keys included), never the key or its hash
 *   GET    /keys/:id         one key
 *   PATCH  /keys/:id         change name, team, models, budgets, limits, metadata or expiry
 *   DELETE /keys/:id         revoke a key
 *   GET    /keys/:id/spend   spend and remaining amount per budget period
 *   POST   /teams            create a team with budgets and limits
 *   GET    /teams            list teams (YAML teams included)
 *   GET    /teams/:name      one team
 *   PATCH  /teams/:name      change a team's budgets, limits or metadata
 *   GET    /status           limit store and counters
 *
 * Bodies and responses use snake_case field names, like OpenAI's API. Every
 * change writes an audit entry with the names of the fields it set, in the
 * same transaction as the change.
 */
import type { SqlError } from "@effect/sql/SqlError"
import {
  AuthenticationError,
  InvalidRequestError,
  PluginError,
  type GatewayError,
  type PluginHttpRequest,
  type PluginHttpResponse,
  type PluginRoute
} from "@fluxen/sdk"
import { Effect, Option, Redacted } from "effect"
import { CreateKeyBody, CreateTeamBody, decodeBody, UpdateKeyBody, UpdateTeamBody } from "./AdminBodies.js"
import { configTeamView, errorBody, json, keyView, notFound, staticKeyView, teamView } from "./AdminViews.js"
import { generateKey, generateKeyId, hashesEqual, hashKey } from "./ApiKey.js"
import type { ApplicableLimits } from "./ApplicableLimits.js"
import type { BudgetLedger } from "./BudgetLedger.js"
import type { ConfigTeam } from "./ConfigTeams.js"
import type { KeyResolver, ResolvedKey } from "./KeyResolver.js"
import type { KeyRecord, KeyStore, TeamRecord } from "./KeyStore.js"
import type { LimitStoreError } from "./LimitStore.js"
import type { PolicyStats } from "./PolicyHooks.js"

export const ADMIN_PREFIX = "/v1/fluxen/admin"
const ACTOR = "master"

export interface AdminApiOptions {
  readonly pluginName: string
  readonly masterKey: Redacted.Redacted<string> | undefined
  readonly store: KeyStore
  readonly resolver: KeyResolver
  readonly limits: ApplicableLimits
  readonly ledger: BudgetLedger
  readonly staticKeys: ReadonlyArray<ResolvedKey>
  /** The teams that team entries of the YAML's `budgets` and `rateLimits` declare. */
  readonly configTeams: ReadonlyArray<ConfigTeam>
  readonly stats: PolicyStats
  readonly storeKind: "memory" | "redis"
  readonly storeStatus: () => string
  readonly now?: () => number
}

/** Names the fields a body set, as the API spells them; the audit log records these instead of values. */
const setFields = (body: object): ReadonlyArray<string> =>
  Object.entries(body)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`))

export const makeAdminRoutes = (options: AdminApiOptions): ReadonlyArray<PluginRoute> => {
  const { store, resolver } = options
  const now = options.now ?? Date.now
  const masterHash = options.masterKey === undefined ? undefined : hashKey(Redacted.value(options.masterKey))

  const databaseError = (error: SqlError | LimitStoreError) =>
    Effect.zipRight(
      Effect.logError("An admin API request failed.").pipe(Effect.annotateLogs({ plugin: options.pluginName, error: error.message })),
      Effect.fail(
        new PluginError({
          plugin: options.pluginName,
          hook: "admin",
          message: "The admin request failed because the database or the limit store did not respond. Retry in a moment."
        })
      )
    )

  const authorize = (request: PluginHttpRequest): Effect.Effect<void, AuthenticationError> => {
    if (masterHash === undefined) {
      return Effect.fail(new AuthenticationError({ message: "The admin API is disabled: set masterKey in the policy plugin's configuration." }))
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")
    if (match === null) return Effect.fail(new AuthenticationError({ message: "Missing master key. Send it as 'Authorization: Bearer <masterKey>'." }))
    return hashesEqual(hashKey(match[1]!), masterHash)
      ? Effect.void
      : Effect.fail(new AuthenticationError({ message: "Invalid master key." }))
  }

  const route = (
    method: PluginRoute["method"],
    path: string,
    handle: (request: PluginHttpRequest) => Effect.Effect<PluginHttpResponse, GatewayError | SqlError | LimitStoreError>
  ): PluginRoute => ({
    method,
    path: ADMIN_PREFIX + path,
    handle: (request) =>
      authorize(request).pipe(
        Effect.zipRight(handle(request)),
        Effect.catchTags({ SqlError: databaseError, LimitStoreError: databaseError }),
        Effect.annotateLogs({ plugin: options.pluginName, "admin.path": path })
      )
  })

  /** Writes a change and its audit entry in one transaction, then clears the key cache. */
  const audited = <A, E>(write: Effect.Effect<A, E>, action: string, targetId: string, changes: ReadonlyArray<string>) =>
    store.transaction(Effect.zipLeft(write, store.appendAudit({ actor: ACTOR, action, targetId, changes }, new Date(now())))).pipe(
      Effect.tap(() => Effect.sync(resolver.invalidate))
    )

  const staticKey = (id: string) => options.staticKeys.find((key) => key.id === id)

  const staticKeyIsReadOnly = (id: string) =>
    new InvalidRequestError({
      message: `The key '${id}' is declared in the configuration file, so the API cannot change it. Change it there and reload.`,
      param: "id",
      code: "static_key"
    })

  const configTeam = (name: string) => options.configTeams.find((team) => team.name === name)

  const configTeamMessage = (name: string) =>
    `The team '${name}' is declared in the configuration file, so the API cannot change it. Edit its budgets and rate limits there and reload.`

  const configTeamIsReadOnly = (name: string) =>
    new InvalidRequestError({ message: configTeamMessage(name), param: "name", code: "static_team" })

  const createKey = route("POST", "/keys", (request) =>
    Effect.gen(function* () {
      const body = yield* decodeBody(CreateKeyBody, request.body)
      const secret = generateKey()
      const at = new Date(now())
      const record: KeyRecord = {
        id: generateKeyId(),
        name: body.name,
        team: body.team ?? null,
        hash: hashKey(secret),
        allowedModels: body.models ?? null,
        budgets: body.budgets ?? [],
        limits: body.limits ?? {},
        expiresAt: body.expiresAt ?? null,
        metadata: body.metadata ?? {},
        revokedAt: null,
        createdAt: at,
        updatedAt: at
      }
      yield* audited(store.insertKey(record), "key.create", record.id, setFields(body))
      return json(201, { ...keyView(record), key: secret })
    })
  )

  const listKeys = route("GET", "/keys", () =>
    Effect.map(store.listKeys, (keys) =>
      json(200, { object: "list", data: [...options.staticKeys.map(staticKeyView), ...keys.map(keyView)] })
    )
  )

  const getKey = route("GET", "/keys/:id", (request) => {
    const id = request.params.id!
    const fromConfig = staticKey(id)
    if (fromConfig !== undefined) return Effect.succeed(json(200, staticKeyView(fromConfig)))
    return Effect.map(store.findKeyById(id), Option.match({ onNone: () => notFound("key", id), onSome: (key) => json(200, keyView(key)) }))
  })

  const updateKey = route("PATCH", "/keys/:id", (request) =>
    Effect.gen(function* () {
      const id = request.params.id!
      if (staticKey(id) !== undefined) return yield* staticKeyIsReadOnly(id)
      const body = yield* decodeBody(UpdateKeyBody, request.body)
      const changes = setFields(body)
      if (changes.length === 0) {
        return yield* new InvalidRequestError({ message: "The request body sets no field.", code: "missing_fields" })
      }
      const found = yield* store.findKeyById(id)
      if (Option.isNone(found)) return notFound("key", id)

      const current = found.value
      const updated: KeyRecord = {
        ...current,
        name: body.name ?? current.name,
        team: body.team === undefined ? current.team : body.team,
        allowedModels: body.models === undefined ? current.allowedModels : body.models,
        budgets: body.budgets ?? current.budgets,
        limits: body.limits ?? current.limits,
        metadata: body.metadata ?? current.metadata,
        expiresAt: body.expiresAt === undefined ? current.expiresAt : body.expiresAt,
        updatedAt: new Date(now())
      }
      yield* audited(store.updateKey(updated), "key.update", id, changes)
      return json(200, keyView(updated))
    })
  )

  const revokeKey = route("DELETE", "/keys/:id", (request) =>
    Effect.gen(function* () {
      const id = request.params.id!
      if (staticKey(id) !== undefined) return yield* staticKeyIsReadOnly(id)
      const found = yield* store.findKeyById(id)
      if (Option.isNone(found)) return notFound("key", id)
      if (found.value.revokedAt !== null) return json(200, keyView(found.value))

      const at = new Date(now())
      const revoked: KeyRecord = { ...found.value, revokedAt: at, updatedAt: at }
      yield* audited(store.updateKey(revoked), "key.revoke", id, ["revoked_at"])
      return json(200, keyView(revoked))
    })
  )

  const keySpend = route("GET", "/keys/:id/spend", (request) =>
    Effect.gen(function* () {
      const id = request.params.id!
      const key = yield* resolver.resolveId(id)
      if (key === undefined) return notFound("key", id)

      const reports = yield* options.ledger.report(options.limits.budgetsOfKey(key), now())
      return json(200, {
        object: "fluxen.key_spend",
        key_id: key.id,
        budgets: reports.map((report) => ({
          scope: report.budget.scope,
          name: report.budget.scope === "global" ? null : report.budget.name,
          period: report.window.period,
          period_start: new Date(report.window.startMs).toISOString(),
          period_end: new Date(report.window.endMs).toISOString(),
          limit_usd: report.budget.limit.limitUsd,
          spent_usd: report.spentUsd,
          reserved_usd: report.reservedUsd,
          remaining_usd: Math.max(0, report.budget.limit.limitUsd - report.spentUsd - report.reservedUsd)
        }))
      })
    })
  )

  const createTeam = route("POST", "/teams", (request) =>
    Effect.gen(function* () {
      const body = yield* decodeBody(CreateTeamBody, request.body)
      if (configTeam(body.name) !== undefined) return errorBody(409, configTeamMessage(body.name), "already_exists", "name")
      const existing = yield* store.findTeam(body.name)
      if (Option.isSome(existing)) {
        return errorBody(409, `A team named '${body.name}' exists already; change it with PATCH.`, "already_exists", "name")
      }
      const at = new Date(now())
      const team: TeamRecord = {
        name: body.name,
        budgets: body.budgets ?? [],
        limits: body.limits ?? {},
        metadata: body.metadata ?? {},
        createdAt: at,
        updatedAt: at
      }
      yield* audited(store.insertTeam(team), "team.create", team.name, setFields(body))
      return json(201, teamView(team))
    })
  )

  const listTeams = route("GET", "/teams", () =>
    Effect.map(store.listTeams, (teams) =>
      json(200, { object: "list", data: [...options.configTeams.map(configTeamView), ...teams.map(teamView)] })
    )
  )

  const getTeam = route("GET", "/teams/:name", (request) => {
    const name = request.params.name!
    const fromConfig = configTeam(name)
    if (fromConfig !== undefined) return Effect.succeed(json(200, configTeamView(fromConfig)))
    return Effect.map(store.findTeam(name), Option.match({ onNone: () => notFound("team", name), onSome: (team) => json(200, teamView(team)) }))
  })

  const updateTeam = route("PATCH", "/teams/:name", (request) =>
    Effect.gen(function* () {
      const name = request.params.name!
      if (configTeam(name) !== undefined) return yield* configTeamIsReadOnly(name)
      const body = yield* decodeBody(UpdateTeamBody, request.body)
      const changes = setFields(body)
      if (changes.length === 0) {
        return yield* new InvalidRequestError({ message: "The request body sets no field.", code: "missing_fields" })
      }
      const found = yield* store.findTeam(name)
      if (Option.isNone(found)) return notFound("team", name)

      const updated: TeamRecord = {
        ...found.value,
        budgets: body.budgets ?? found.value.budgets,
        limits: body.limits ?? found.value.limits,
        metadata: body.metadata ?? found.value.metadata,
        updatedAt: new Date(now())
      }
      yield* audited(store.updateTeam(updated), "team.update", name, changes)
      return json(200, teamView(updated))
    })
  )

  const status = route("GET", "/status", () =>
    Effect.succeed(
      json(200, {
        object: "fluxen.policy_status",
        store: options.storeKind,
        store_connection: options.storeStatus(),
        unchecked_admissions: options.stats.uncheckedAdmissions,
        store_failures: options.stats.storeFailures
      })
    )
  )

  return [createKey, listKeys, getKey, updateKey, revokeKey, keySpend, createTeam, listTeams, getTeam, updateTeam, status]
}
