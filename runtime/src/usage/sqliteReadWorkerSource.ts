/**
 * Source of the SQLite reader thread that `workerSqliteReader.ts` starts with
 * `eval: true`. It is CommonJS JavaScript in a string because Node loads a
 * worker's code itself, and the tests run this package from its TypeScript
 * sources, where no compiled worker file exists.
 *
 * `workerData` carries `filename` and `driverPath`, the resolved path of
 * better-sqlite3. The thread receives `{ id, text, params }` and replies
 * `{ id, rows }`, or `{ id, error: { message, code } }` when the read fails.
 */

// The store's reads produce at most a few hundred distinct texts (each totals grouping with each
// set of filters), so a full cache is cleared rather than evicted entry by entry.
const maxCachedStatements = 64

export const sqliteReadWorkerSource = `
"use strict"
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driverPath)

// Opened at the first read, and at the next read again after a failed open.
let database
const statements = new Map()

const prepare = (text) => {
  if (database === undefined) {
    database = new Database(workerData.filename, { readonly: true, fileMustExist: true })
  }
  let statement = statements.get(text)
  if (statement === undefined) {
    if (statements.size >= ${maxCachedStatements}) statements.clear()
    statement = database.prepare(text)
    statements.set(text, statement)
  }
  return statement
}

parentPort.on("message", ({ id, text, params }) => {
  try {
    parentPort.postMessage({ id, rows: prepare(text).all(...params) })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const code = typeof error?.code === "string" ? error.code : undefined
    parentPort.postMessage({ id, error: { message, code } })
  }
})
`
