/**
 * `SqliteReader` on a worker thread with its own read-only better-sqlite3
 * connection to the usage database file. Node only: it uses
 * `node:worker_threads`, and better-sqlite3 is a V8 addon. In WAL mode (the
 * SQLite client's default) this connection reads the last committed state,
 * and readers and writers do not block each other.
 *
 * One thread runs the reads one at a time. It starts at the first read, so
 * after the `SqlClient` has created the file and applied migrations, and it
 * is terminated when the layer's scope closes. A read whose fiber is
 * interrupted while the thread runs it (the store's read timeout, a closed
 * client connection) terminates that thread, and the next read starts a
 * fresh one. So an abandoned read never delays the reads after it.
 *
 * NOTE: better-sqlite3 cannot cancel a running statement. A terminated
 * thread keeps running its abandoned query, one CPU core busy, and exits
 * and closes its connection only when the query ends.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { SqliteReader } from "./SqliteReader.js"
import { sqliteReadWorkerSource } from "./sqliteReadWorkerSource.js"

type Rows = ReadonlyArray<Record<string, unknown>>

type Reply =
  | { readonly id: number; readonly rows: Rows }
  | { readonly id: number; readonly error: { readonly message: string; readonly code: string | undefined } }

interface ReaderThread {
  readonly worker: Worker
  /** Id of the read that the thread runs, and the callback that resumes its fiber. */
  pending: { readonly id: number; readonly resume: (result: Effect.Effect<Rows, SqlError>) => void } | undefined
}

const makeReader = (filename: string) => {
  const driverPath = createRequire(import.meta.url).resolve("better-sqlite3")
  let current: ReaderThread | undefined
  let nextId = 0

  // Terminates the thread and detaches it from the reader, so the next read starts a new thread.
  const retire = (thread: ReaderThread): Promise<number> => {
    if (current === thread) current = undefined
    return thread.worker.terminate()
  }

  const settle = (thread: ReaderThread, id: number, result: Effect.Effect<Rows, SqlError>) => {
    const pending = thread.pending
    if (pending === undefined || pending.id !== id) return
    thread.pending = undefined
    // An idle thread must not keep the process alive.
    thread.worker.unref()
    pending.resume(result)
  }

  const failPending = (thread: ReaderThread, message: string, cause: unknown) => {
    void retire(thread)
    if (thread.pending !== undefined) settle(thread, thread.pending.id, Effect.fail(new SqlError({ cause, message })))
  }

  const start = (): ReaderThread => {
    const worker = new Worker(sqliteReadWorkerSource, { eval: true, workerData: { filename, driverPath } })
    const thread: ReaderThread = { worker, pending: undefined }
    worker.unref()

    worker.on("message", (reply: Reply) => {
      if ("rows" in reply) {
        settle(thread, reply.id, Effect.succeed(reply.rows))
        return
      }
      const cause = Object.assign(new Error(reply.error.message), { code: reply.error.code })
      settle(thread, reply.id, Effect.fail(new SqlError({ cause, message: `Failed to execute statement on the SQLite reader thread: ${reply.error.message}` })))
    })
    worker.on("error", (error) => failPending(thread, `The SQLite reader thread failed: ${error.message}`, error))
    worker.on("exit", (code) => failPending(thread, `The SQLite reader thread exited with code ${code} during a read`, null))

    current = thread
    return thread
  }

  const run = (text: string, params: ReadonlyArray<unknown>): Effect.Effect<Rows, SqlError> =>
    Effect.async<Rows, SqlError>((resume) => {
      const thread = current ?? start()
      const id = nextId++
      thread.pending = { id, resume }
      thread.worker.ref()
      thread.worker.postMessage({ id, text, params })

      return Effect.suspend(() => {
        if (thread.pending?.id !== id) return Effect.void
        thread.pending = undefined
        void retire(thread)
        return Effect.logInfo("Terminated the SQLite reader thread to abandon an interrupted usage read. The next read starts a new thread.")
      })
    })

  const close = Effect.promise(async () => {
    if (current !== undefined) await retire(current)
  })

  return { run, close }
}

/**
 * Provides the reader for the database file `filename`. Closing the scope
 * terminates the thread and waits for it to exit.
 */
export const workerSqliteReaderLayer = (filename: string): Layer.Layer<SqliteReader> =>
  Layer.scoped(
    SqliteReader,
    Effect.gen(function* () {
      const reader = yield* Effect.acquireRelease(Effect.sync(() => makeReader(filename)), (reader) => reader.close)
      const oneAtATime = yield* Effect.makeSemaphore(1)
      return SqliteReader.of({ all: (text, params) => oneAtATime.withPermits(1)(reader.run(text, params)) })
    })
  )
