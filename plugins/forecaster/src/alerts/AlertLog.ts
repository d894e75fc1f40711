/**
 * The alerts already sent, in `fluxen_forecaster_alerts`. An alert is
 * claimed by inserting its row before it is sent. The primary key (budget,
 * period start, threshold) lets only one claim succeed, also when several
 * gateway instances share the database.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export interface AlertKey {
  readonly budgetId: string
  /** The period's first day, `YYYY-MM-DD`. */
  readonly periodStart: string
  readonly threshold: number
}

export interface AlertDetails {
  readonly projectedUsd: number
  readonly limitUsd: number
  readonly sentAtMs: number
}

export interface AlertLog {
  /** Records the alert unless it is already recorded; succeeds with true when this call recorded it. */
  readonly claim: (key: AlertKey, details: AlertDetails) => Effect.Effect<boolean, SqlError>
  /** Removes a claimed alert whose delivery failed, so that the next check sends it again. */
  readonly release: (key: AlertKey) => Effect.Effect<void, SqlError>
}

export const makeAlertLog = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  const bindTime = (ms: number): Date | number => (dialect === "pg" ? new Date(ms) : ms)

  const claim = (key: AlertKey, details: AlertDetails) =>
    sql`
      INSERT INTO fluxen_forecaster_alerts ${sql.insert({
        budget_id: key.budgetId,
        period_start: key.periodStart,
        threshold: key.threshold,
        sent_at: bindTime(details.sentAtMs),
        projected_usd: details.projectedUsd,
        limit_usd: details.limitUsd
      })}
      ON CONFLICT (budget_id, period_start, threshold) DO NOTHING
      RETURNING budget_id`.pipe(Effect.map((rows) => rows.length > 0))

  const release = (key: AlertKey) =>
    Effect.asVoid(sql`
      DELETE FROM fluxen_forecaster_alerts
      WHERE budget_id = ${key.budgetId} AND period_start = ${key.periodStart} AND threshold = ${key.threshold}`)

  const log: AlertLog = { claim, release }
  return log
})
