/**
 * Usage sums per group, such as per model or per UTC day, over a time range, optionally narrowed
 * to one model, requested model, key or team. Both dialects compute the same groups and sums in SQL.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { SelectRunner } from "./SqliteReader.js"
import type { UsageDialect } from "./UsageRow.js"

/**
 * Dimension that `UsageStore.totals` groups by. `model` is the resolved model, or the requested
 * model when the request failed before routing. `requested_model` and `resolved_model` are the two
 * columns on their own. `key` is the key id and `day` the UTC date as `YYYY-MM-DD`.
 */
export type UsageGroupBy =
  | "model"
  | "requested_model"
  | "resolved_model"
  | "key"
  | "team"
  | "provider"
  | "endpoint"
  | "status"
  | "day"

/** Dimensions that `UsageStore.totals` can narrow to one value. */
export const usageFilterDimensions = ["model", "requested_model", "key", "team"] as const satisfies ReadonlyArray<UsageGroupBy>

/** Dimension that `UsageStore.totals` can narrow to one value. */
export type UsageFilterBy = (typeof usageFilterDimensions)[number]

/**
 * Values that selected records must have, each compared for equality with the group label of its
 * dimension. So `nullGroupLabel` selects the records without a value.
 */
export type UsageTotalsFilters = Readonly<Partial<Record<UsageFilterBy, string>>>

/** Time range `[from, to)` on the request start time, the grouping and the optional filters. */
export interface UsageTotalsQuery {
  readonly from: Date
  readonly to: Date
  readonly groupBy: UsageGroupBy
  readonly filters?: UsageTotalsFilters | undefined
}

/** Sums over the records of one group. Token sums treat unknown (null) counts as 0. */
export interface UsageTotal {
  /**
   * Group key. For `model` it is the resolved model, or the requested model when the request
   * failed before routing. Records without a value for the dimension, such as a model, key id,
   * provider or team, are reported as `nullGroupLabel`.
   */
  readonly group: string
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  /** The part of `cacheWriteTokens` written to a 1-hour prompt cache. */
  readonly cacheWrite1hTokens: number
  readonly reasoningTokens: number
  /** Sum of the known costs in US dollars, which excludes the `unknownCostRequests`. */
  readonly costUsd: number
  /**
   * Requests whose cost is unknown (null `costUsd`), mostly for a model without a price. A failed
   * request is among them only when a provider sent a success response before it failed, such as
   * a stream cut off after its first bytes. A request without such a response costs 0.
   */
  readonly unknownCostRequests: number
  /** Requests with status `error`, which excludes cancelled requests. */
  readonly errors: number
  /**
   * The part of `errors` that a plugin refused, such as for a missing or invalid key, a model the
   * key may not use, a `deny` rule, or a rate limit or budget (error types in `refusalErrorTypes`).
   */
  readonly refused: number
  /** Requests with status `cancelled`, whose client disconnected before the response ended. */
  readonly cancelled: number
  /** Requests whose token counts Fluxen estimated because the provider reported none (`usageEstimated`). */
  readonly estimatedUsageRequests: number
  /** Requests served from the cache (`hit` or `semantic-hit`). */
  readonly cacheHits: number
  readonly costSavedUsd: number
}

/**
 * Error types (`error_type`) of the refusals counted in `UsageTotal.refused`. Plugins such as the
 * policy and rules plugins raise them (401, 403, 429), and an upstream's error status is an
 * `UpstreamHttpError` instead, so these are not failures of the gateway or an upstream.
 */
export const refusalErrorTypes = ["AuthenticationError", "PermissionDeniedError", "LimitExceededError"] as const

/** Group key reported for records without a value for the grouped dimension. */
export const nullGroupLabel = "(none)"

/** Returns the SQL expression of each dimension's group label in the dialect. */
export const groupExpressions = (dialect: UsageDialect): Record<UsageGroupBy, string> => ({
  // The pipeline stores an empty requested model when the request named none.
  model: `coalesce(resolved_model, nullif(requested_model, ''), '${nullGroupLabel}')`,
  requested_model: `coalesce(nullif(requested_model, ''), '${nullGroupLabel}')`,
  resolved_model: `coalesce(resolved_model, '${nullGroupLabel}')`,
  key: `coalesce(key_id, '${nullGroupLabel}')`,
  team: `coalesce(team, '${nullGroupLabel}')`,
  provider: `coalesce(provider, '${nullGroupLabel}')`,
  endpoint: "endpoint",
  status: "status",
  day:
    dialect === "pg"
      ? "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
      : "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')"
})

interface TotalsRow {
  readonly group_key: string
  readonly requests: number | string
  readonly prompt_tokens: number | string
  readonly completion_tokens: number | string
  readonly cached_input_tokens: number | string
  readonly cache_write_tokens: number | string
  readonly cache_write_1h_tokens: number | string
  readonly reasoning_tokens: number | string
  readonly cost_usd: number | string
  readonly unknown_cost_requests: number | string
  readonly errors: number | string
  readonly refused: number | string
  readonly cancelled: number | string
  readonly estimated_usage_requests: number | string
  readonly cache_hits: number | string
  readonly cost_saved_usd: number | string
}

// PostgreSQL returns count, bigint sums and numeric sums as strings.
const decodeTotal = (row: TotalsRow): UsageTotal => ({
  group: String(row.group_key),
  requests: Number(row.requests),
  promptTokens: Number(row.prompt_tokens),
  completionTokens: Number(row.completion_tokens),
  cachedInputTokens: Number(row.cached_input_tokens),
  cacheWriteTokens: Number(row.cache_write_tokens),
  cacheWrite1hTokens: Number(row.cache_write_1h_tokens),
  reasoningTokens: Number(row.reasoning_tokens),
  costUsd: Number(row.cost_usd),
  unknownCostRequests: Number(row.unknown_cost_requests),
  errors: Number(row.errors),
  refused: Number(row.refused),
  cancelled: Number(row.cancelled),
  estimatedUsageRequests: Number(row.estimated_usage_requests),
  cacheHits: Number(row.cache_hits),
  costSavedUsd: Number(row.cost_saved_usd)
})

const compareGroups = (a: UsageTotal, b: UsageTotal): number => {
  if (a.group < b.group) {
    return -1
  }
  return a.group > b.group ? 1 : 0
}

/**
 * Makes the query on a client without name transforms, run by `runSelect`. `bindTime` turns a
 * date into the dialect's `created_at` value.
 */
export const makeUsageTotals = (
  sql: SqlClient.SqlClient,
  runSelect: SelectRunner,
  dialect: UsageDialect,
  bindTime: (date: Date) => Date | number
): ((query: UsageTotalsQuery) => Effect.Effect<ReadonlyArray<UsageTotal>, SqlError>) => {
  const groups = groupExpressions(dialect)

  return Effect.fn("UsageStore.totals")(function* (query: UsageTotalsQuery) {
    const group = groups[query.groupBy]
    if (group === undefined) {
      return yield* Effect.dieMessage(
        `Invalid usage groupBy "${String(query.groupBy)}": expected one of ${Object.keys(groups).join(", ")}`
      )
    }

    // A filter compares the group label rather than the column, so that a value copied from a
    // group of the response, `(none)` included, selects that group's records.
    const conditions = [sql`created_at >= ${bindTime(query.from)}`, sql`created_at < ${bindTime(query.to)}`]
    for (const dimension of usageFilterDimensions) {
      const value = query.filters?.[dimension]
      if (value !== undefined) {
        conditions.push(sql`${sql.literal(groups[dimension])} = ${value}`)
      }
    }

    // `usage_estimated` is a boolean in PostgreSQL and 0 or 1 in SQLite, and both read it as a condition.
    const rows: ReadonlyArray<TotalsRow> = yield* runSelect(sql<TotalsRow>`
      SELECT ${sql.literal(group)} AS group_key,
        count(*) AS requests,
        coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
        coalesce(sum(completion_tokens), 0) AS completion_tokens,
        coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
        coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
        coalesce(sum(cache_write_1h_tokens), 0) AS cache_write_1h_tokens,
        coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
        coalesce(sum(cost_usd), 0) AS cost_usd,
        sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unknown_cost_requests,
        sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
        sum(CASE WHEN status = 'error' AND error_type IN ${sql.in(refusalErrorTypes)} THEN 1 ELSE 0 END) AS refused,
        sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
        sum(CASE WHEN usage_estimated THEN 1 ELSE 0 END) AS estimated_usage_requests,
        sum(CASE WHEN cache_status IN ('hit', 'semantic-hit') THEN 1 ELSE 0 END) AS cache_hits,
        coalesce(sum(cost_saved_usd), 0) AS cost_saved_usd
      FROM fluxen_usage
      WHERE ${sql.and(conditions)}
      GROUP BY 1`)

    // Sorted here because PostgreSQL orders text by the database collation, which can differ
    // from SQLite's byte order (an en_US collation ignores the parentheses of "(none)").
    return rows.map(decodeTotal).sort(compareGroups)
  })
}
