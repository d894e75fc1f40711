/**
 * Shadow evaluation results in `fluxen_forecaster_shadow`: one row per
 * sampled request, with the comparison score and token counts but never
 * the prompt or either output.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export interface ShadowResult {
  /** The original request's id. */
  readonly requestId: string
  readonly createdAtMs: number
  /** The original request's upstream model, as in `fluxen_usage.resolved_model`. */
  readonly model: string
  readonly candidate: string
  readonly status: "ok" | "error"
  /** Null when the shadow request failed. */
  readonly comparison: "exact" | "jaccard" | null
  readonly score: number | null
  readonly originalCompletionTokens: number | null
  readonly candidateCompletionTokens: number | null
  readonly candidateLatencyMs: number
  /** Why the shadow request failed: `http_<status>`, `request_failed` or `no_output`. */
  readonly errorType: string | null
}

/** Aggregates of the shadow results of one model and candidate. */
export interface ShadowSummary {
  readonly model: string
  readonly candidate: string
  readonly samples: number
  readonly failed: number
  /** Short outputs compared exactly, and how many matched. */
  readonly exactSamples: number
  readonly exactMatches: number
  /** Longer outputs compared by word-set Jaccard similarity, and its mean (null without any). */
  readonly jaccardSamples: number
  readonly meanJaccard: number | null
}

export interface ShadowStore {
  readonly insert: (result: ShadowResult) => Effect.Effect<void, SqlError>
  /** Sums the results created in `[fromMs, toMs)` per model and candidate, ordered by model then candidate. */
  readonly summaries: (fromMs: number, toMs: number) => Effect.Effect<ReadonlyArray<ShadowSummary>, SqlError>
}

interface SummaryRow {
  readonly model: string
  readonly candidate: string
  readonly samples: number | string
  readonly failed: number | string
  readonly exact_samples: number | string
  readonly exact_matches: number | string
  readonly jaccard_samples: number | string
  readonly mean_jaccard: number | string | null
}

export const makeShadowStore = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const bindTime = (ms: number): Date | number => (dialect === "pg" ? new Date(ms) : ms)

  const insert = (result: ShadowResult) =>
    Effect.asVoid(sql`
      INSERT INTO fluxen_forecaster_shadow ${sql.insert({
        request_id: result.requestId,
        created_at: bindTime(result.createdAtMs),
        model: result.model,
        candidate: result.candidate,
        status: result.status,
        comparison: result.comparison,
        score: result.score,
        original_completion_tokens: result.originalCompletionTokens,
        candidate_completion_tokens: result.candidateCompletionTokens,
        candidate_latency_ms: Math.round(result.candidateLatencyMs),
        error_type: result.errorType
      })}
      ON CONFLICT (request_id) DO NOTHING`)

  const summaries = (fromMs: number, toMs: number) =>
    sql<SummaryRow>`
      SELECT model, candidate,
        count(*) AS samples,
        sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS failed,
        sum(CASE WHEN comparison = 'exact' THEN 1 ELSE 0 END) AS exact_samples,
        sum(CASE WHEN comparison = 'exact' AND score = 1 THEN 1 ELSE 0 END) AS exact_matches,
        sum(CASE WHEN comparison = 'jaccard' THEN 1 ELSE 0 END) AS jaccard_samples,
        avg(CASE WHEN comparison = 'jaccard' THEN score END) AS mean_jaccard
      FROM fluxen_forecaster_shadow
      WHERE created_at >= ${bindTime(fromMs)} AND created_at < ${bindTime(toMs)}
      GROUP BY model, candidate`.pipe(
      Effect.map((rows) =>
        rows
          .map(
            (row): ShadowSummary => ({
              model: row.model,
              candidate: row.candidate,
              samples: Number(row.samples),
              failed: Number(row.failed),
              exactSamples: Number(row.exact_samples),
              exactMatches: Number(row.exact_matches),
              jaccardSamples: Number(row.jaccard_samples),
              meanJaccard: row.mean_jaccard === null ? null : Number(row.mean_jaccard)
            })
          )
          .sort((a, b) => (a.model === b.model ? compareText(a.candidate, b.candidate) : compareText(a.model, b.model)))
      )
    )

  const store: ShadowStore = { insert, summaries }
  return store
})

const compareText = (a: string, b: string): number => {
  if (a < b) return -1
  return a > b ? 1 : 0
}
