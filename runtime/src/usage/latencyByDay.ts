/**
 * Latency percentiles of successful requests per UTC day, computed in SQL so
 * that they cover every record of the range however many there are.
 *
 * The query sorts every successful record of the range. On a SQLite file
 * under Node, `UsageStore` runs it on a reader thread (see
 * workerSqliteReader.ts), so the sort does not hold up proxied requests.
 * NOTE: on Deno, and on an in-memory SQLite database, it still runs on the
 * event loop's thread, so a dashboard load over millions of records holds up
 * proxied requests for as long as the sort takes.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { SelectRunner } from "./SqliteReader.js"

/** Percentiles of `totalMs` over one UTC day's successful requests, in milliseconds. */
export interface DayLatency {
  /** The UTC date, `YYYY-MM-DD`. */
  readonly day: string
  /** Successful requests of the day. */
  readonly requests: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

/** Time range `[from, to)` on the request start time. */
export interface LatencyByDayQuery {
  readonly from: Date
  readonly to: Date
}

interface DayLatencyRow {
  readonly day: string
  readonly requests: number | string
  readonly p50: number | string
  readonly p95: number | string
  readonly p99: number | string
}

/**
 * Makes the query on a client without name transforms, run by `runSelect`.
 * `dayExpression` turns `created_at` into `YYYY-MM-DD` in the client's dialect.
 *
 * Each percentile is the nearest rank, as `percentilesOf` computes it: the
 * value at position ceil(q·n) of the day's ascending latencies, which is the
 * smallest value whose position p satisfies 100·p ≥ (100·q)·n. Comparing
 * whole numbers keeps the rank exact in both dialects. Window functions need
 * SQLite 3.25 or later.
 */
export const makeLatencyByDay =
  (sql: SqlClient.SqlClient, runSelect: SelectRunner, dayExpression: string, bindTime: (date: Date) => Date | number) =>
  (query: LatencyByDayQuery): Effect.Effect<ReadonlyArray<DayLatency>, SqlError> =>
    runSelect(sql<DayLatencyRow>`
      WITH ranked AS (
        SELECT ${sql.literal(dayExpression)} AS day, total_ms,
          row_number() OVER (PARTITION BY ${sql.literal(dayExpression)} ORDER BY total_ms) AS position,
          count(*) OVER (PARTITION BY ${sql.literal(dayExpression)}) AS day_requests
        FROM fluxen_usage
        WHERE status = 'ok' AND created_at >= ${bindTime(query.from)} AND created_at < ${bindTime(query.to)}
      )
      SELECT day, max(day_requests) AS requests,
        min(CASE WHEN 100 * position >= 50 * day_requests THEN total_ms END) AS p50,
        min(CASE WHEN 100 * position >= 95 * day_requests THEN total_ms END) AS p95,
        min(CASE WHEN 100 * position >= 99 * day_requests THEN total_ms END) AS p99
      FROM ranked
      GROUP BY day
      ORDER BY day`).pipe(
      // PostgreSQL returns bigint counts as strings.
      Effect.map((rows) =>
        rows.map((row) => ({
          day: String(row.day),
          requests: Number(row.requests),
          p50: Number(row.p50),
          p95: Number(row.p95),
          p99: Number(row.p99)
        }))
      ),
      Effect.withSpan("UsageStore.latencyByDay")
    )
