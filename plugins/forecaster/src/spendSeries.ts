/**
 * Daily spend read from the gateway's usage table `fluxen_usage`, per UTC
 * day and zero-filled, for the whole gateway or one key, team, model or
 * requested model. It reads both dialects the runtime writes: `created_at`
 * is a `timestamptz` on PostgreSQL and INTEGER epoch milliseconds on SQLite.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { DAY_MS, dayLabel, startOfUtcDay } from "./periods.js"
import { NO_VALUE_NAME, type SpendScope } from "./SpendScope.js"

/** The recorded spend of one UTC day. */
export interface DailySpend {
  /** The UTC day as `YYYY-MM-DD`. */
  readonly date: string
  /** Sum of the known costs in USD; requests with an unknown price add nothing. */
  readonly costUsd: number
  /** All recorded requests, whatever their status. */
  readonly requests: number
  /** Requests whose cost is unknown (a null `cost_usd`), which `costUsd` leaves out. */
  readonly unpricedRequests: number
}

export interface SpendSeriesReader {
  /**
   * Reads the spend of every UTC day from the day containing `fromMs` to the
   * day containing `toMs - 1`, oldest first, counting requests that started
   * in `[fromMs, toMs)`. Days without requests are present with zeros.
   */
  readonly dailySpend: (scope: SpendScope, fromMs: number, toMs: number) => Effect.Effect<ReadonlyArray<DailySpend>, SqlError>
}

interface DayRow {
  readonly day: string
  readonly cost_usd: number | string
  readonly requests: number | string
  readonly unpriced_requests: number | string
}

/** Creates the reader on the gateway's `SqlClient`. */
export const makeSpendSeriesReader = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const bindTime = (ms: number): Date | number => (dialect === "pg" ? new Date(ms) : ms)
  const dayExpression =
    dialect === "pg"
      ? "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
      : "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')"

  // The name `(none)` selects the records without a value, as the usage API's filters do. The
  // pipeline stores an empty requested model when the request named none. Other names compare
  // the plain column, so that the index on `key_id` stays usable.
  const columnIs = (column: "key_id" | "team", name: string) =>
    name === NO_VALUE_NAME ? sql`(${sql(column)} IS NULL OR ${sql(column)} = ${name})` : sql`${sql(column)} = ${name}`
  const requestedModelIs = (name: string) =>
    name === NO_VALUE_NAME
      ? sql`(requested_model IS NULL OR requested_model IN ('', ${name}))`
      : sql`requested_model = ${name}`

  const scopeFilter = (scope: SpendScope) => {
    switch (scope.kind) {
      case "global":
        return sql`1 = 1`
      case "key":
        return columnIs("key_id", scope.name)
      case "team":
        return columnIs("team", scope.name)
      case "requested_model":
        return requestedModelIs(scope.name)
      case "model":
        // As in the policy plugin's model budgets: the model the client named or the one it was
        // routed to. A request that named no model was routed nowhere, so `model:(none)` selects
        // the requests that named no model.
        return sql`(${requestedModelIs(scope.name)} OR resolved_model = ${scope.name})`
    }
  }

  const dailySpend = (scope: SpendScope, fromMs: number, toMs: number) =>
    Effect.gen(function* () {
      const rows = yield* sql<DayRow>`
        SELECT ${sql.literal(dayExpression)} AS day,
          coalesce(sum(cost_usd), 0) AS cost_usd,
          count(*) AS requests,
          sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests
        FROM fluxen_usage
        WHERE ${scopeFilter(scope)} AND created_at >= ${bindTime(fromMs)} AND created_at < ${bindTime(toMs)}
        GROUP BY 1`

      // PostgreSQL returns count and numeric sums as strings.
      const byDay = new Map(rows.map((row) => [String(row.day), row]))
      const days: Array<DailySpend> = []
      for (let dayMs = startOfUtcDay(fromMs); dayMs < toMs; dayMs += DAY_MS) {
        const date = dayLabel(dayMs)
        const row = byDay.get(date)
        days.push({
          date,
          costUsd: row === undefined ? 0 : Number(row.cost_usd),
          requests: row === undefined ? 0 : Number(row.requests),
          unpricedRequests: row === undefined ? 0 : Number(row.unpriced_requests)
        })
      }
      return days
    }).pipe(Effect.withSpan("SpendSeriesReader.dailySpend"))

  const reader: SpendSeriesReader = { dailySpend }
  return reader
})
