/**
 * An `@effect/sql` client on the `node:sqlite` module, which Deno 2 and
 * Node 22.5+ provide. It serves the usage database where better-sqlite3,
 * a V8 addon, cannot load (Deno). One connection; statements run one at a
 * time, as SQLite does anyway.
 */
import { Reactivity } from "@effect/experimental"
import { SqlClient, SqlConnection, SqlError, Statement } from "@effect/sql"
import { Effect, Layer, Scope } from "effect"
import type { SqliteDriver } from "../usage/UsageDatabase.js"

interface StatementSync {
  all(...params: Array<unknown>): Array<Record<string, unknown>>
  run(...params: Array<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint }
}

interface DatabaseSync {
  prepare(sql: string): StatementSync
  exec(sql: string): void
  close(): void
}

const toSqlError = (message: string) => (cause: unknown) => new SqlError.SqlError({ cause, message })

const make = (filename: string) =>
  Effect.gen(function* () {
    const { DatabaseSync } = (yield* Effect.promise(() => import("node:sqlite" as string))) as {
      DatabaseSync: new (path: string) => DatabaseSync
    }
    const database = yield* Effect.acquireRelease(
      Effect.try({ try: () => new DatabaseSync(filename), catch: toSqlError(`Opening ${filename} failed`) }),
      (opened) => Effect.sync(() => opened.close())
    )
    if (filename !== ":memory:") database.exec("PRAGMA journal_mode = WAL")

    const prepared = new Map<string, StatementSync>()
    const prepare = (sql: string) =>
      Effect.try({
        try: () => {
          let statement = prepared.get(sql)
          if (statement === undefined) {
            statement = database.prepare(sql)
            prepared.set(sql, statement)
          }
          return statement
        },
        catch: toSqlError("Failed to prepare statement")
      })
    const all = (sql: string, params: ReadonlyArray<unknown>) =>
      Effect.flatMap(prepare(sql), (statement) =>
        Effect.try({ try: () => statement.all(...params), catch: toSqlError("Failed to execute statement") })
      )

    const connection: SqlConnection.Connection = {
      execute: (sql, params, transformRows) =>
        transformRows === undefined ? all(sql, params) : Effect.map(all(sql, params), transformRows),
      executeRaw: (sql, params) =>
        Effect.flatMap(prepare(sql), (statement) =>
          Effect.try({ try: () => statement.run(...params), catch: toSqlError("Failed to execute statement") })
        ),
      executeValues: (sql, params) => Effect.map(all(sql, params), (rows) => rows.map((row) => Object.values(row))),
      executeUnprepared: (sql, params, transformRows) =>
        transformRows === undefined ? all(sql, params) : Effect.map(all(sql, params), transformRows),
      executeStream: () => Effect.dieMessage("Streaming queries are not supported by the node:sqlite client") as never
    }

    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(semaphore.take(1)),
          Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, semaphore.release(1)))
        ),
        connection
      )
    )
    return yield* SqlClient.make({
      acquirer,
      compiler: Statement.makeCompilerSqlite(),
      transactionAcquirer,
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  })

/** The SQLite driver for runtimes that provide `node:sqlite`. */
export const nodeSqliteModuleDriver: SqliteDriver = ({ filename }) =>
  Layer.scoped(SqlClient.SqlClient, make(filename)).pipe(Layer.provide(Reactivity.layer))
