/**
 * Spend already recorded in the gateway's usage table `fluxen_usage`, which
 * the runtime writes (columns `key_id`, `team`, `requested_model`,
 * `resolved_model`, `cost_usd`, `created_at`). A budget counter starts from
 * this total the first time its period is used, so spend survives restarts
 * without a counters table of the plugin's own.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { LimitOwner } from "./Limits.js"

export interface SpendHistory {
  /** Sums the recorded cost of the owner's requests created in `[startMs, endMs)`, in USD. */
  readonly spentUsd: (owner: LimitOwner, startMs: number, endMs: number) => Effect.Effect<number, SqlError>
}

export const makeSpendHistory = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const time = (ms: number): Date | number => (dialect === "pg" ? new Date(ms) : ms)

  const ownerFilter = (owner: LimitOwner) => {
    switch (owner.scope) {
      case "global":
        return sql`1 = 1`
      case "key":
        return sql`key_id = ${owner.name}`
      case "team":
        return sql`team = ${owner.name}`
      case "model":
        // A model budget counts requests that named the model and requests routed to it.
        return sql`(requested_model = ${owner.name} OR resolved_model = ${owner.name})`
    }
  }

  const spentUsd = (owner: LimitOwner, startMs: number, endMs: number) =>
    Effect.map(
      sql<{ readonly total: number | string | null }>`
        SELECT SUM(cost_usd) AS total FROM fluxen_usage
        WHERE ${ownerFilter(owner)} AND created_at >= ${time(startMs)} AND created_at < ${time(endMs)}`,
      // PostgreSQL returns `numeric` sums as strings.
      (rows) => Number(rows[0]?.total ?? 0)
    )

  const history: SpendHistory = { spentUsd }
  return history
})
