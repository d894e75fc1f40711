import type { SqlError } from "@effect/sql/SqlError"

// SQLSTATE classes of PostgreSQL errors that mean the server cannot serve queries now:
// 08 connection exception, 53 insufficient resources (too many connections, disk full) and
// 57P operator intervention (shutting down, starting up).
const unavailableSqlStatePrefixes = ["08", "53", "57P"]

// SQLite codes of a database that another connection holds locked.
const unavailableSqliteCodes = ["SQLITE_BUSY", "SQLITE_LOCKED"]

/**
 * Returns true when a usage query failed because the database did not respond or could not be
 * reached, and false when the database rejected the query. A timeout, a refused or lost
 * connection and a pool that could not connect in time have no database error code. A
 * PostgreSQL server error (which carries a `severity`) and a SQLite error (code `SQLITE_*`)
 * count only in the classes above.
 * NOTE: a client-side failure without a code, such as a value the driver cannot serialize, is
 * also taken for an unavailable database.
 */
export const isDatabaseUnavailable = (error: SqlError): boolean => {
  let current: unknown = error.cause
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof (current as { readonly severity?: unknown }).severity === "string" && typeof code === "string") {
      return unavailableSqlStatePrefixes.some((prefix) => code.startsWith(prefix))
    }
    if (typeof code === "string" && code.startsWith("SQLITE_")) {
      return unavailableSqliteCodes.some((prefix) => code.startsWith(prefix))
    }
    current = current.cause
  }
  return true
}
