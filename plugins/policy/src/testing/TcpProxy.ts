/**
 * A TCP proxy on a loopback port that the tests start and stop, to make a
 * server unreachable for the code under test without stopping the server.
 * Not part of the package build.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { createConnection, createServer, type Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Closes the listener and every open connection, so new connections are refused. */
  readonly stop: Effect.Effect<void>
  /** Stops forwarding in both directions but keeps every connection open, as a stalled server or a network partition does. */
  readonly stall: Effect.Effect<void>
}

/** Starts a proxy from a free loopback port to `127.0.0.1:targetPort`, which stops when the scope closes. */
export const startTcpProxy = (targetPort: number): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<Socket>()
    let stalled = false
    const server = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort })
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        // A reset on either side ends both sockets. Resets are expected while the proxy stops.
        socket.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.on("data", (chunk: Buffer) => {
        if (!stalled) upstream.write(chunk)
      })
      upstream.on("data", (chunk: Buffer) => {
        if (!stalled) client.write(chunk)
      })
      client.on("end", () => upstream.end())
      upstream.on("end", () => client.end())
    })

    const port = yield* Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    })

    const stop = Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      if (!server.listening) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })
    const stall = Effect.sync(() => {
      stalled = true
    })
    yield* Effect.addFinalizer(() => stop)
    return { port, stop, stall }
  })
