import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { UsageDatabase, UsageDatabaseError, type UsageDatabaseOptions } from "./UsageDatabase.js"
import { testPostgresUrl } from "./UsageTesting.js"

const password = "fluxen-test-password-5f1c"

/** Opens the database and returns the UsageDatabaseError it failed with. */
const openFailure = (options: UsageDatabaseOptions) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(Effect.scoped(Layer.build(UsageDatabase.layer(options))))
    if (Exit.isSuccess(exit)) {
      return yield* Effect.dieMessage("expected opening the usage database to fail")
    }
    const error = Cause.squash(exit.cause)
    expect(error).toBeInstanceOf(UsageDatabaseError)
    return error as UsageDatabaseError
  })

/** Starts a TCP server on a random loopback port that accepts connections and never sends a byte. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      sockets.forEach((socket) => socket.destroy())
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ server }) => (server.address() as Net.AddressInfo).port))

describe("UsageDatabase", () => {
  it.live("missing PostgreSQL database fails without the password", () =>
    Effect.gen(function* () {
      const url = new URL(testPostgresUrl)
      url.password = password
      url.pathname = `/fluxen_missing_${randomUUID().slice(0, 8)}`

      const error = yield* openFailure({ url: Redacted.make(url.toString()) })

      expect(error.reason).toBe("Connect")
      expect(error.message).toContain(url.pathname.slice(1))
      expect(error.message).toContain("does not exist")
      expect(error.message).not.toContain(password)
      expect(Cause.pretty(Cause.fail(error))).not.toContain(password)
    }))

  it.live("unparseable URL fails without the password", () =>
    Effect.gen(function* () {
      const error = yield* openFailure({ url: Redacted.make(`postgres://postgres:${password}@[127.0.0.1:5432/test`) })

      expect(error.reason).toBe("Connect")
      expect(error.message).toContain("unparseable URL")
      expect(error.message).not.toContain(password)
      expect(Cause.pretty(Cause.fail(error))).not.toContain(password)
    }))

  it.scopedLive("silent server times out", () =>
    Effect.gen(function* () {
      const port = yield* silentServer
      const started = Date.now()

      const error = yield* openFailure({
        url: Redacted.make(`postgres://postgres:${password}@127.0.0.1:${port}/test`),
        connectTimeout: "300 millis"
      })

      expect(error.reason).toBe("Connect")
      expect(error.message).toMatch(/timed out|timeout/i)
      expect(error.message).not.toContain(password)
      expect(Date.now() - started).toBeLessThan(5000)
    }))

  it.scopedLive("SQLite: WAL, synchronous NORMAL", () =>
    Effect.gen(function* () {
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-usage-"))),
        (path) => Effect.sync(() => NodeFs.rmSync(path, { recursive: true, force: true }))
      )
      const context = yield* Layer.build(UsageDatabase.layer({ sqlitePath: NodePath.join(directory, "usage.db") }))
      const sql = Context.get(context, SqlClient.SqlClient)

      // NORMAL is 1; the default, FULL, is 2.
      expect(yield* sql`PRAGMA synchronous`).toEqual([{ synchronous: 1 }])
      expect(yield* sql`PRAGMA journal_mode`).toEqual([{ journal_mode: "wal" }])
    }))

  it.scopedLive("SQLite file that is not a database fails", () =>
    Effect.gen(function* () {
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-usage-"))),
        (path) => Effect.sync(() => NodeFs.rmSync(path, { recursive: true, force: true }))
      )
      const sqlitePath = NodePath.join(directory, "usage.db")
      NodeFs.writeFileSync(sqlitePath, "this is a text file, not a SQLite database\n".repeat(200))

      const error = yield* openFailure({ sqlitePath })

      expect(["Open", "Connect", "Migrate"]).toContain(error.reason)
      expect(error.message).toContain(sqlitePath)
      expect(error.message).toContain("not a database")
    }))

  it.scopedLive("SQLite path under a file fails to open", () =>
    Effect.gen(function* () {
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "fluxen-usage-"))),
        (path) => Effect.sync(() => NodeFs.rmSync(path, { recursive: true, force: true }))
      )
      const blocker = NodePath.join(directory, "blocker")
      NodeFs.writeFileSync(blocker, "")

      const error = yield* openFailure({ sqlitePath: NodePath.join(blocker, "usage.db") })

      expect(error.reason).toBe("Open")
      expect(error.message).toContain("Creating the directory")
      expect(error.message).toContain("is not a directory")
    }))

  it.live.runIf(process.platform === "linux")("SQLite path under /proc fails instead of hanging", () =>
    Effect.gen(function* () {
      const error = yield* openFailure({ sqlitePath: `/proc/fluxen-${randomUUID().slice(0, 8)}/usage.db` })

      expect(error.reason).toBe("Open")
      expect(error.message).toContain("Creating the directory")
    }), 5000)
})
