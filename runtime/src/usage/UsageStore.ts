import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { makeLatencyByDay, type DayLatency, type LatencyByDayQuery } from "./latencyByDay.js"
import { SqliteBatchInserter, SqliteBusy } from "./SqliteBatchInserter.js"
import { runOnClient, runOnReader, SqliteReader } from "./SqliteReader.js"
import { makeUsageInsertPlanner, type UsageInsert } from "./UsageInsert.js"
import type { UsageRecord } from "./UsageRecord.js"
import {
  decodeUsageRow,
  encodeUsageRow,
  invalidUsageRecordReason,
  type UsageDialect,
  type UsageRow
} from "./UsageRow.js"
import { groupExpressions, makeUsageTotals, type UsageTotal, type UsageTotalsQuery } from "./usageTotals.js"

/** Time range `[from, to)` on the request start time, newest records first, at most `limit` records. */
export interface UsageListQuery {
  readonly from: Date
  readonly to: Date
  readonly limit: number
}

/** Settings of the usage store. */
export interface UsageStoreOptions {
  /** Time one read (`totals`, `list` or `latencyByDay`) may take before it fails. Default 10 seconds. */
  readonly queryTimeout?: Duration.DurationInput | undefined
}

// Logged request ids per warning about skipped records, to keep a bad batch from flooding the log.
const maxLoggedRequestIds = 10

const defaultQueryTimeout = Duration.seconds(10)

const make = (options: UsageStoreOptions) => Effect.gen(function* () {
  // The store names columns in snake_case itself, so a client configured with name transforms
  // must not rewrite them.
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const dialect = yield* sql.onDialectOrElse({
    pg: () => Effect.succeed<UsageDialect>("pg"),
    sqlite: () => Effect.succeed<UsageDialect>("sqlite"),
    orElse: () => Effect.dieMessage("UsageStore supports only PostgreSQL and SQLite clients")
  })
  const bindTime = (date: Date): Date | number => (dialect === "pg" ? date : date.getTime())
  const planInserts = makeUsageInsertPlanner(dialect)
  // SQLite's INSERT returns no rows (see UsageInsert.ts), so its raw result's `changes` counts them.
  const countInserted = (insert: UsageInsert): Effect.Effect<number, SqlError> =>
    dialect === "pg"
      ? Effect.map(sql.unsafe(insert.text, insert.params), (inserted) => inserted.length)
      : Effect.map(sql.unsafe(insert.text, insert.params).raw, (result) => Number((result as { readonly changes: number | bigint }).changes))

  const inserter = dialect === "sqlite" ? Option.getOrUndefined(yield* Effect.serviceOption(SqliteBatchInserter)) : undefined
  const insertThroughClient = (inserts: ReadonlyArray<UsageInsert>) => sql.withTransaction(Effect.forEach(inserts, countInserted))
  // A batch that finds the database locked goes through the SqlClient, which waits its turn.
  const insertRows = (inserts: ReadonlyArray<UsageInsert>): Effect.Effect<ReadonlyArray<number>, SqlError> => {
    if (inserter === undefined) return insertThroughClient(inserts)
    return Effect.suspend(() => {
      try {
        return Effect.succeed(inserter.insertAll(inserts))
      } catch (cause) {
        if (cause instanceof SqliteBusy) return insertThroughClient(inserts)
        return Effect.fail(new SqlError({ cause, message: `Running ${inserts.length} usage INSERTs in one SQLite transaction failed` }))
      }
    })
  }

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

    const insertedPerChunk = yield* insertRows(planInserts(rows))

    const inserted = insertedPerChunk.reduce((sum, count) => sum + count, 0)
    if (inserted < rows.length) {
      yield* Effect.logWarning(
        `Ignored ${rows.length - inserted} usage records whose request id is already stored (a retried batch or a reused request id)`
      )
    }
  })

  // `disconnect` lets the timeout return without waiting for the interrupted query, whose
  // cancellation on a PostgreSQL connection that stopped responding takes seconds itself.
  const queryTimeout = Duration.decode(options.queryTimeout ?? defaultQueryTimeout)
  const bounded = <A>(read: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
    read.pipe(
      Effect.disconnect,
      Effect.timeoutFail({
        duration: queryTimeout,
        onTimeout: () => new SqlError({ message: `Timed out after ${Duration.format(queryTimeout)} waiting for the database to respond to the query` })
      })
    )

  // Reads go through the SqliteReader when the driver provides one, which keeps them off the
  // event loop's thread, and otherwise through the SqlClient.
  const reader = dialect === "sqlite" ? Option.getOrUndefined(yield* Effect.serviceOption(SqliteReader)) : undefined
  const runSelect = reader === undefined ? runOnClient : runOnReader(reader)

  const totalsOf = makeUsageTotals(sql, runSelect, dialect, bindTime)
  const totals = (query: UsageTotalsQuery) => bounded(totalsOf(query))

  const listOf = Effect.fn("UsageStore.list")(function* (query: UsageListQuery) {
    const rows = yield* runSelect(sql<Record<string, unknown>>`
      SELECT * FROM fluxen_usage
      WHERE created_at >= ${bindTime(query.from)} AND created_at < ${bindTime(query.to)}
      ORDER BY created_at DESC, request_id
      LIMIT ${query.limit}`)

    return rows.map(decodeUsageRow)
  })
  const list = (query: UsageListQuery) => bounded(listOf(query))

  const latencyByDayOf = makeLatencyByDay(sql, runSelect, groupExpressions(dialect).day, bindTime)
  const latencyByDay = (query: LatencyByDayQuery) => bounded(latencyByDayOf(query))

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
    /**
     * Sums usage per group over the records whose request started in `[from, to)` and that match
     * every filter, ordered by group (UTF-16 code units).
     */
    readonly totals: (query: UsageTotalsQuery) => Effect.Effect<ReadonlyArray<UsageTotal>, SqlError>
    /** Lists the records whose request started in `[from, to)`, newest first. */
    readonly list: (query: UsageListQuery) => Effect.Effect<ReadonlyArray<UsageRecord>, SqlError>
    /** Computes latency percentiles of the successful requests of each UTC day in `[from, to)`, oldest day first. */
    readonly latencyByDay: (query: LatencyByDayQuery) => Effect.Effect<ReadonlyArray<DayLatency>, SqlError>
  }
>() {
  /** Store on the `SqlClient` in context, whose database must already have the usage migrations applied. */
  static readonly layer = (options: UsageStoreOptions = {}): Layer.Layer<UsageStore, never, SqlClient.SqlClient> =>
    Layer.effect(UsageStore, make(options))
}
