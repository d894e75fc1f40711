/**
 * Profiles of each model's recent successful traffic, read from
 * `fluxen_usage`: token sums and the 90th percentiles of prompt and
 * completion tokens per request.
 *
 * Counted: requests with status `ok` on every endpoint but embeddings, with
 * known token counts, that were not served from the response cache (they
 * cost nothing upstream).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export interface ModelUsageProfile {
  /** The upstream model (`resolved_model`), as the usage store groups models. */
  readonly model: string
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  /** The part of `cacheWriteTokens` written to a 1-hour prompt cache. */
  readonly cacheWrite1hTokens: number
  /** Nearest-rank 90th percentile: 90% of the requests had at most this many. */
  readonly p90PromptTokens: number
  readonly p90CompletionTokens: number
  /** The names clients sent for this model (aliases included), most used first. */
  readonly requestedModels: ReadonlyArray<{ readonly model: string; readonly requests: number }>
}

export interface UsageProfiles {
  /** Returns the start time of the oldest request of any kind before `toMs`, or undefined when the table has none. */
  readonly firstRequestMs: (toMs: number) => Effect.Effect<number | undefined, SqlError>
  /** Reads the profiles of the models with counted requests in `[fromMs, toMs)`, ordered by model name. */
  readonly read: (fromMs: number, toMs: number) => Effect.Effect<ReadonlyArray<ModelUsageProfile>, SqlError>
}

interface ProfileRow {
  readonly model: string
  readonly requests: number | string
  readonly prompt_tokens: number | string
  readonly completion_tokens: number | string
  readonly cached_input_tokens: number | string
  readonly cache_write_tokens: number | string
  readonly cache_write_1h_tokens: number | string
  readonly p90_prompt_tokens: number | string
  readonly p90_completion_tokens: number | string
}

interface RequestedRow {
  readonly model: string
  readonly requested_model: string
  readonly requests: number | string
}

export const makeUsageProfiles = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const bindTime = (ms: number): Date | number => (dialect === "pg" ? new Date(ms) : ms)

  const counted = (fromMs: number, toMs: number) => sql`
    status = 'ok'
    AND endpoint <> 'embeddings'
    AND prompt_tokens IS NOT NULL
    AND completion_tokens IS NOT NULL
    AND coalesce(cache_status, 'none') NOT IN ('hit', 'semantic-hit')
    AND created_at >= ${bindTime(fromMs)} AND created_at < ${bindTime(toMs)}`

  const firstRequestMs = (toMs: number) =>
    sql<{ readonly first: Date | number | string | null }>`
      SELECT min(created_at) AS first FROM fluxen_usage WHERE created_at < ${bindTime(toMs)}`.pipe(
      Effect.map((rows) => {
        const first = rows[0]?.first ?? null
        if (first === null) return undefined
        return first instanceof Date ? first.getTime() : Number(first)
      })
    )

  // The nearest rank of the 90th percentile is ceil(0.9·n), written (9·n + 9) / 10 in integer
  // division because SQLite has no ceil() unless built with its math functions.
  const read = (fromMs: number, toMs: number) =>
    Effect.gen(function* () {
      const rows = yield* sql<ProfileRow>`
        WITH counted AS (
          SELECT coalesce(resolved_model, requested_model) AS model,
            prompt_tokens, completion_tokens,
            coalesce(cached_input_tokens, 0) AS cached_input_tokens,
            coalesce(cache_write_tokens, 0) AS cache_write_tokens,
            coalesce(cache_write_1h_tokens, 0) AS cache_write_1h_tokens
          FROM fluxen_usage
          WHERE ${counted(fromMs, toMs)}
        ),
        ranked AS (
          SELECT counted.*,
            row_number() OVER (PARTITION BY model ORDER BY prompt_tokens) AS prompt_rank,
            row_number() OVER (PARTITION BY model ORDER BY completion_tokens) AS completion_rank,
            count(*) OVER (PARTITION BY model) AS model_requests
          FROM counted
        )
        SELECT model,
          count(*) AS requests,
          sum(prompt_tokens) AS prompt_tokens,
          sum(completion_tokens) AS completion_tokens,
          sum(cached_input_tokens) AS cached_input_tokens,
          sum(cache_write_tokens) AS cache_write_tokens,
          sum(cache_write_1h_tokens) AS cache_write_1h_tokens,
          max(CASE WHEN prompt_rank = (9 * model_requests + 9) / 10 THEN prompt_tokens END) AS p90_prompt_tokens,
          max(CASE WHEN completion_rank = (9 * model_requests + 9) / 10 THEN completion_tokens END) AS p90_completion_tokens
        FROM ranked
        GROUP BY model`

      const requested = yield* sql<RequestedRow>`
        SELECT coalesce(resolved_model, requested_model) AS model, requested_model, count(*) AS requests
        FROM fluxen_usage
        WHERE ${counted(fromMs, toMs)}
        GROUP BY 1, 2`

      const namesByModel = new Map<string, Array<{ model: string; requests: number }>>()
      for (const row of requested) {
        const names = namesByModel.get(row.model) ?? []
        names.push({ model: row.requested_model, requests: Number(row.requests) })
        namesByModel.set(row.model, names)
      }

      // PostgreSQL returns bigint sums and counts as strings.
      return rows
        .map(
          (row): ModelUsageProfile => ({
            model: row.model,
            requests: Number(row.requests),
            promptTokens: Number(row.prompt_tokens),
            completionTokens: Number(row.completion_tokens),
            cachedInputTokens: Number(row.cached_input_tokens),
            cacheWriteTokens: Number(row.cache_write_tokens),
            cacheWrite1hTokens: Number(row.cache_write_1h_tokens),
            p90PromptTokens: Number(row.p90_prompt_tokens),
            p90CompletionTokens: Number(row.p90_completion_tokens),
            requestedModels: (namesByModel.get(row.model) ?? []).sort(
              (a, b) => b.requests - a.requests || compareText(a.model, b.model)
            )
          })
        )
        .sort((a, b) => compareText(a.model, b.model))
    }).pipe(Effect.withSpan("UsageProfiles.read"))

  const profiles: UsageProfiles = { firstRequestMs, read }
  return profiles
})

// Sorted here because PostgreSQL orders text by the database collation, which can differ from SQLite's.
const compareText = (a: string, b: string): number => {
  if (a < b) return -1
  return a > b ? 1 : 0
}
