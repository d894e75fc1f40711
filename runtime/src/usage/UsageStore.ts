import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { makeLatencyByDay, type DayLatency, type LatencyByDayQuery } from "./latencyByDay.js"
import { makeUsageInsertPlanner, type UsageInsert } from "./UsageInsert.js"
import type { UsageRecord } from "./UsageRecord.js"
import {
  decodeUsageRow,
  encodeUsageRow,
  invalidUsageRecordReason,
  type UsageDialect,
  type UsageRow
} from "./UsageRow.js"

/** Dimension that `UsageStore.totals` groups by. `day` is the UTC date as `YYYY-MM-DD`. */
export type UsageGroupBy = "model" | "key" | "day" | "provider" | "team"

/** Time range `[from, to)` on the request start time, and the grouping. */
export interface UsageTotalsQuery {
  readonly from: Date
  readonly to: Date
  readonly groupBy: UsageGroupBy
}

/** Time range `[from, to)` on the request start time, newest records first, at most `limit` records. */
export interface UsageListQuery {
  readonly from: Date
  readonly to: Date
  readonly limit: number
}

/** Sums over the records of one group. Token sums treat unknown (null) counts as 0. */
export interface UsageTotal {
  /**
   * Group key. For `model` it is the resolved model, or the requested model when the request
   * failed before routing. Records without a model, key id, provider or team are reported as
   * `nullGroupLabel`.
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
   * Requests that did not fail and whose price was unknown (null `costUsd`).
   * Failed requests are left out, because most have no usage to price.
   */
  readonly unknownCostRequests: number
  /** Requests with status `error`, which excludes cancelled requests. */
  readonly errors: number
  /** Requests served from the cache (`hit` or `semantic-hit`). */
  readonly cacheHits: number
  readonly costSavedUsd: number
}

/** Group key reported for records without a model, key id, provider or team. */
export const nullGroupLabel = "(none)"

// Logged request ids per warning about skipped records, to keep a bad batch from flooding the log.
const maxLoggedRequestIds = 10

const groupExpressions = (dialect: UsageDialect): Record<UsageGroupBy, string> => ({
  // The pipeline stores an empty requested model when the request named none.
  model: `coalesce(resolved_model, nullif(requested_model, ''), '${nullGroupLabel}')`,
  key: `coalesce(key_id, '${nullGroupLabel}')`,
  provider: `coalesce(provider, '${nullGroupLabel}')`,
  team: `coalesce(team, '${nullGroupLabel}')`,
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
  cacheHits: Number(row.cache_hits),
  costSavedUsd: Number(row.cost_saved_usd)
})

const compareGroups = (a: UsageTotal, b: UsageTotal): number => {
  if (a.group < b.group) {
    return -1
  }
  return a.group > b.group ? 1 : 0
}

const make = Effect.gen(function* () {
  // The store names columns in snake_case itself, so a client configured with name transforms
  // must not rewrite them.
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = yield* sql.onDialectOrElse({
    pg: () => Effect.succeed<UsageDialect>("pg"),
    sqlite: () => Effect.succeed<UsageDialect>("sqlite"),
    orElse: () => Effect.dieMessage("UsageStore supports only PostgreSQL and SQLite clients")
  })
  const groups = groupExpressions(dialect)
  const bindTime = (date: Date): Date | number => (dialect === "pg" ? date : date.getTime())
  const planInserts = makeUsageInsertPlanner(dialect)
  // SQLite's INSERT returns no rows (see UsageInsert.ts), so its raw result's `changes` counts them.
  const countInserted = (insert: UsageInsert): Effect.Effect<number, SqlError> =>
    dialect === "pg"
      ? Effect.map(sql.unsafe(insert.text, insert.params), (inserted) => inserted.length)
      : Effect.map(sql.unsafe(insert.text, insert.params).raw, (result) => Number((result as { readonly changes: number | bigint }).changes))

  const insertBatch = Effect.fn("UsageStore.insertBatch")(function* (records: ReadonlyArray<UsageRecord>) {
    const rows: Array<UsageRow> = []
    const rejected: Array<string> = []
    for (const record of records) {
      const reason = invalidUsageRecordReason(record)
      if (reason === undefined) {
        rows.push(encodeUsageRow(dialect, record))
      } else {
        rejected.push(`${String(record.requestId)}: ${reason}`)
      }
    }

    if (rejected.length > 0) {
      yield* Effect.logWarning(`Skipped ${rejected.length} invalid usage records and stored the others`).pipe(
        Effect.annotateLogs("usage.invalid_records", rejected.slice(0, maxLoggedRequestIds).join("; "))
      )
    }
    if (rows.length === 0) {
      return
    }

    const insertedPerChunk = yield* sql.withTransaction(Effect.forEach(planInserts(rows), countInserted))

    const inserted = insertedPerChunk.reduce((sum, count) => sum + count, 0)
    if (inserted < rows.length) {
      yield* Effect.logWarning(
        `Ignored ${rows.length - inserted} usage records whose request id is already stored (a retried batch or a reused request id)`
      )
    }
  })

  const totals = Effect.fn("UsageStore.totals")(function* (query: UsageTotalsQuery) {
    const group = groups[query.groupBy]
    if (group === undefined) {
      return yield* Effect.dieMessage(
        `Invalid usage groupBy "${String(query.groupBy)}": expected model, key, day, provider or team`
      )
    }

    const rows = yield* sql<TotalsRow>`
      SELECT ${sql.literal(group)} AS group_key,
        count(*) AS requests,
        coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
        coalesce(sum(completion_tokens), 0) AS completion_tokens,
        coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
        coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
        coalesce(sum(cache_write_1h_tokens), 0) AS cache_write_1h_tokens,
        coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
        coalesce(sum(cost_usd), 0) AS cost_usd,
        sum(CASE WHEN cost_usd IS NULL AND status <> 'error' THEN 1 ELSE 0 END) AS unknown_cost_requests,
        sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
        sum(CASE WHEN cache_status IN ('hit', 'semantic-hit') THEN 1 ELSE 0 END) AS cache_hits,
        coalesce(sum(cost_saved_usd), 0) AS cost_saved_usd
      FROM fluxen_usage
      WHERE created_at >= ${bindTime(query.from)} AND created_at < ${bindTime(query.to)}
      GROUP BY 1`

    // Sorted here because PostgreSQL orders text by the database collation, which can differ
    // from SQLite's byte order (an en_US collation ignores the parentheses of "(none)").
    return rows.map(decodeTotal).sort(compareGroups)
  })

  const list = Effect.fn("UsageStore.list")(function* (query: UsageListQuery) {
    const rows = yield* sql<Record<string, unknown>>`
      SELECT * FROM fluxen_usage
      WHERE created_at >= ${bindTime(query.from)} AND created_at < ${bindTime(query.to)}
      ORDER BY created_at DESC, request_id
      LIMIT ${query.limit}`

    return rows.map(decodeUsageRow)
  })

  const latencyByDay = makeLatencyByDay(sql, groups.day, bindTime)

  return UsageStore.of({ insertBatch, totals, list, latencyByDay })
})

/** Reads and writes usage records in the `fluxen_usage` table of a SQLite or PostgreSQL database. */
export class UsageStore extends Context.Tag("@fluxen/runtime/UsageStore")<
  UsageStore,
  {
    /**
     * Inserts the records in one transaction, with multi-row INSERTs. Invalid records are
     * skipped and logged, and records whose request id is already stored are ignored.
     */
    readonly insertBatch: (records: ReadonlyArray<UsageRecord>) => Effect.Effect<void, SqlError>
    /** Sums usage per group over records whose request started in `[from, to)`, ordered by group (UTF-16 code units). */
    readonly totals: (query: UsageTotalsQuery) => Effect.Effect<ReadonlyArray<UsageTotal>, SqlError>
    /** Lists the records whose request started in `[from, to)`, newest first. */
    readonly list: (query: UsageListQuery) => Effect.Effect<ReadonlyArray<UsageRecord>, SqlError>
    /** Computes latency percentiles of the successful requests of each UTC day in `[from, to)`, oldest day first. */
    readonly latencyByDay: (query: LatencyByDayQuery) => Effect.Effect<ReadonlyArray<DayLatency>, SqlError>
  }
>() {
  /** Store on the `SqlClient` in context, whose database must already have the usage migrations applied. */
  static readonly layer: Layer.Layer<UsageStore, never, SqlClient.SqlClient> = Layer.effect(UsageStore, make)
}
