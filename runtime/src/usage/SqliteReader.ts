/**
 * A path for the usage store's SQLite reads off the event loop's thread. A
 * driver whose `SqlClient` runs queries synchronously (better-sqlite3)
 * provides this service beside it, so that a read over millions of records
 * does not hold up proxied requests. `UsageStore` builds each read with its
 * `SqlClient`, as on every other database, and runs the compiled SQL text
 * here when the service is there.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

export interface SqliteReaderService {
  /**
   * Runs one SELECT with positional parameters and returns its rows. Reads
   * run one at a time, in the order they arrive. Interrupting a read that
   * has started (a timeout, a closed client connection) abandons it.
   */
  readonly all: (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
}

export class SqliteReader extends Context.Tag("@fluxen/runtime/usage/SqliteReader")<SqliteReader, SqliteReaderService>() {}

/** Runs a SELECT statement built with a `SqlClient` and returns its rows. */
export type SelectRunner = <A extends object>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError>

/** Runs each statement on its own client. */
export const runOnClient: SelectRunner = (statement) => statement

/** Compiles each statement with its client, without name transforms, and runs the SQL text on `reader`. */
export const runOnReader = (reader: SqliteReaderService): SelectRunner => <A extends object>(statement: Statement.Statement<A>) =>
  Effect.suspend(() => {
    const [text, params] = statement.compile(true)
    // The rows are those the client would return for the same text, since no name transform applies.
    return reader.all(text, params) as Effect.Effect<ReadonlyArray<A>, SqlError>
  })
