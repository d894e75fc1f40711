import { usageColumns, type UsageColumnValue, type UsageDialect, type UsageRow } from "./UsageRow.js"

/** One multi-row INSERT of usage rows: its SQL text and the values bound to its placeholders. */
export interface UsageInsert {
  readonly text: string
  readonly params: ReadonlyArray<UsageColumnValue>
  readonly rowCount: number
}

// Maximum rows per INSERT. On SQLite, 256 rows of 26 columns bind 6,656 parameters, far below
// its default limit of 32,766 (since SQLite 3.32). On PostgreSQL, 2,048 rows bind 53,248, below
// the protocol limit of 65,535.
const maxSqliteRowsPerInsert = 256
const maxPostgresRowsPerInsert = 2048

const sqliteTuple = `(${usageColumns.map(() => "?").join(",")})`

// PostgreSQL numbers its placeholders, so each row of an INSERT has its own tuple text. Each
// tuple is built once per row position and cached, at most `maxPostgresRowsPerInsert` of them.
const postgresTuples: Array<string> = []

const postgresTuple = (row: number): string => {
  let tuple = postgresTuples[row]
  if (tuple === undefined) {
    const first = row * usageColumns.length + 1
    tuple = `(${usageColumns.map((_, column) => `$${first + column}`).join(",")})`
    postgresTuples[row] = tuple
  }
  return tuple
}

const insertText = (dialect: UsageDialect, rowCount: number): string => {
  const tuples: Array<string> = []
  for (let row = 0; row < rowCount; row++) {
    tuples.push(dialect === "pg" ? postgresTuple(row) : sqliteTuple)
  }

  // ON CONFLICT makes a retried batch harmless when an earlier attempt committed but its result
  // never reached the store (a connection lost during COMMIT). The inserted rows are counted by
  // the rows PostgreSQL returns, and by SQLite's count of changes, which costs no row objects.
  return (
    `INSERT INTO fluxen_usage (${usageColumns.join(", ")}) VALUES ${tuples.join(",")} ` +
    `ON CONFLICT (request_id) DO NOTHING${dialect === "pg" ? " RETURNING request_id" : ""}`
  )
}

const paramsOf = (rows: ReadonlyArray<UsageRow>, start: number, rowCount: number): Array<UsageColumnValue> => {
  const columnCount = usageColumns.length
  const params = new Array<UsageColumnValue>(rowCount * columnCount)
  for (let row = 0; row < rowCount; row++) {
    const values = rows[start + row]!
    for (let column = 0; column < columnCount; column++) {
      params[row * columnCount + column] = values[usageColumns[column]!]
    }
  }
  return params
}

// SQLite: INSERTs of 256 rows, then of the powers of two that make up the remainder, largest
// first (500 rows become 256, 128, 64, 32, 16 and 4). Batches of any size then share nine SQL
// texts. Both the SqliteBatchInserter and the SQLite client key their prepared statements by
// SQL text, so they find these there instead of preparing one with thousands of parameters for
// each new batch size. Each text is built once and reused as the same string, which keeps the
// lookup cheap. NOTE: on the SqlClient path (a driver without the inserter), `UsageDatabase`
// makes prepared statements expire 2 seconds after they were prepared, so with one flush per
// second a text in use is still prepared again about every other flush.
const makeSqlitePlanner = (): ((rows: ReadonlyArray<UsageRow>) => Array<UsageInsert>) => {
  const texts = new Map<number, string>()
  const textFor = (rowCount: number): string => {
    let text = texts.get(rowCount)
    if (text === undefined) {
      text = insertText("sqlite", rowCount)
      texts.set(rowCount, text)
    }
    return text
  }

  return (rows) => {
    const inserts: Array<UsageInsert> = []
    let rowCount = maxSqliteRowsPerInsert
    for (let start = 0; start < rows.length; start += rowCount) {
      while (rowCount > rows.length - start) {
        rowCount /= 2
      }
      inserts.push({ text: textFor(rowCount), params: paramsOf(rows, start, rowCount), rowCount })
    }
    return inserts
  }
}

// PostgreSQL: as few INSERTs as the parameter limit allows. The `pg` driver sends unnamed
// statements, which the server parses and plans on every execution. So reusing texts would save
// nothing there, while each extra statement costs a round trip.
const planPostgresInserts = (rows: ReadonlyArray<UsageRow>): Array<UsageInsert> => {
  const inserts: Array<UsageInsert> = []
  for (let start = 0; start < rows.length; start += maxPostgresRowsPerInsert) {
    const rowCount = Math.min(maxPostgresRowsPerInsert, rows.length - start)
    inserts.push({ text: insertText("pg", rowCount), params: paramsOf(rows, start, rowCount), rowCount })
  }
  return inserts
}

/** Creates the function that splits a batch's rows, in order, into the INSERTs that store them. */
export const makeUsageInsertPlanner = (dialect: UsageDialect): ((rows: ReadonlyArray<UsageRow>) => Array<UsageInsert>) =>
  dialect === "pg" ? planPostgresInserts : makeSqlitePlanner()
