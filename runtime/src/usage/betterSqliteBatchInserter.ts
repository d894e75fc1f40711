/**
 * `SqliteBatchInserter` on a second better-sqlite3 connection to the usage
 * database file. Node only: better-sqlite3 is a V8 addon.
 *
 * This connection never waits for a lock (`timeout: 0`). Each of its
 * transactions runs within one synchronous call, so the `SqlClient`'s
 * connection never finds it holding the lock. The reverse can happen: a
 * `SqlClient` transaction (a migration, a plugin's) stays open across
 * awaits, and waiting for it here would block the event loop it needs to
 * finish. So a locked database raises `SqliteBusy` at once, and the store
 * sends that batch through the `SqlClient`, which queues it.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import { SqliteBatchInserter, SqliteBusy } from "./SqliteBatchInserter.js"
import type { UsageInsert } from "./UsageInsert.js"

// The parts of better-sqlite3's API used here (the package ships no type declarations).
interface Statement {
  run(...params: ReadonlyArray<unknown>): { readonly changes: number | bigint }
}

interface Transaction<A> {
  readonly immediate: () => A
}

interface Database {
  prepare(sql: string): Statement
  pragma(source: string): unknown
  transaction<A>(body: () => A): Transaction<A>
  close(): void
}

type DatabaseConstructor = new (filename: string, options: { readonly timeout: number }) => Database

// The planner reuses at most nine INSERT texts on SQLite, so this bound is never reached in use.
const maxCachedStatements = 32

const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

const makeInserter = (filename: string) => {
  let database: Database | undefined
  const statements = new Map<string, Statement>()

  // Opened at the first batch, after the SqlClient has created the file and applied migrations.
  const open = (): Database => {
    if (database !== undefined) return database
    const Sqlite = createRequire(import.meta.url)("better-sqlite3") as DatabaseConstructor
    const opened = new Sqlite(filename, { timeout: 0 })
    // Per connection, as in UsageDatabase: WAL syncs at checkpoints, not at every commit.
    opened.pragma("synchronous = NORMAL")
    database = opened
    return opened
  }

  // A failed prepare is not cached, so a table created later is found by the next batch.
  const statementFor = (opened: Database, text: string): Statement => {
    let statement = statements.get(text)
    if (statement === undefined) {
      if (statements.size >= maxCachedStatements) statements.clear()
      statement = opened.prepare(text)
      statements.set(text, statement)
    }
    return statement
  }

  const insertAll = (inserts: ReadonlyArray<UsageInsert>): ReadonlyArray<number> => {
    const opened = open()
    try {
      return opened
        .transaction(() => inserts.map((insert) => Number(statementFor(opened, insert.text).run(...insert.params).changes)))
        .immediate()
    } catch (error) {
      if (isBusy(error)) throw new SqliteBusy()
      throw error
    }
  }

  const close = () => {
    statements.clear()
    database?.close()
    database = undefined
  }

  return { insertAll, close }
}

/** Provides the inserter for the database file `filename` and closes its connection with the scope. */
export const betterSqliteBatchInserterLayer = (filename: string): Layer.Layer<SqliteBatchInserter> =>
  Layer.scoped(
    SqliteBatchInserter,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeInserter(filename)), (inserter) => Effect.sync(inserter.close)),
      (inserter) => SqliteBatchInserter.of({ insertAll: inserter.insertAll })
    )
  )
