/**
 * The admin API's responses: keys and teams as the API shows them, with
 * snake_case field names, and the error bodies that have no gateway error.
 */
import type { PluginHttpResponse } from "@fluxen/sdk"
import { Schema } from "effect"
import { ApiBudget, ApiRateLimits } from "./AdminBodies.js"
import type { ConfigTeam } from "./ConfigTeams.js"
import type { ResolvedKey } from "./KeyResolver.js"
import type { KeyRecord, TeamRecord } from "./KeyStore.js"

const encodeBudgets = Schema.encodeSync(Schema.Array(ApiBudget))
const encodeLimits = Schema.encodeSync(ApiRateLimits)

const isoOrNull = (date: Date | null): string | null => (date === null ? null : date.toISOString())

export const keyView = (key: KeyRecord) => ({
  id: key.id,
  object: "fluxen.key",
  source: "api",
  name: key.name,
  team: key.team,
  models: key.allowedModels,
  budgets: encodeBudgets(key.budgets),
  limits: encodeLimits(key.limits),
  metadata: key.metadata,
  expires_at: isoOrNull(key.expiresAt),
  revoked_at: isoOrNull(key.revokedAt),
  created_at: key.createdAt.toISOString(),
  updated_at: key.updatedAt.toISOString()
})

export const staticKeyView = (key: ResolvedKey) => ({
  id: key.id,
  object: "fluxen.key",
  source: "config",
  name: key.name,
  team: key.team,
  models: key.allowedModels,
  budgets: encodeBudgets(key.budgets),
  limits: encodeLimits(key.limits),
  metadata: key.metadata,
  expires_at: null,
  revoked_at: null,
  created_at: null,
  updated_at: null
})

export const teamView = (team: TeamRecord) => ({
  name: team.name,
  object: "fluxen.team",
  source: "api",
  budgets: encodeBudgets(team.budgets),
  limits: encodeLimits(team.limits),
  metadata: team.metadata,
  created_at: team.createdAt.toISOString(),
  updated_at: team.updatedAt.toISOString()
})

export const configTeamView = (team: ConfigTeam) => ({
  name: team.name,
  object: "fluxen.team",
  source: "config",
  budgets: encodeBudgets(team.budgets),
  limits: encodeLimits(team.limits),
  metadata: {},
  created_at: null,
  updated_at: null
})

export const json = (status: number, body: unknown): PluginHttpResponse => ({ status, body })

// 404 and 409 have no gateway error type, so these build OpenAI's error shape here.
export const errorBody = (status: number, message: string, code: string, param: string | null = null): PluginHttpResponse =>
  json(status, { error: { message, type: "invalid_request_error", param, code } })

export const notFound = (what: string, id: string) => errorBody(404, `No ${what} has the id '${id}'.`, "not_found")
