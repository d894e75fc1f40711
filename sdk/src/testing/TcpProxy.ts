/**
 * A TCP proxy on a loopback port that a test pauses, resumes or stops, to
 * make a server (PostgreSQL, Redis) hang or go away for the code under test
 * without touching the server itself. While paused it reads nothing, so the
 * bytes sent wait in the socket buffers and are delivered in order on
 * resume, as with a server that stalled and came back.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { createConnection, createServer, type Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Stops forwarding in both directions and keeps every connection open, as a stalled server or a network partition does. */
  readonly pause: Effect.Effect<void>
  /** Forwards again, first the bytes held back while paused. */
  readonly resume: Effect.Effect<void>
  /** Closes the listener and every open connection, so new connections are refused. */
  readonly stop: Effect.Effect<void>
}

/** Starts a proxy from a free loopback port to `127.0.0.1:targetPort`, which stops when the scope closes. */
export const startTcpProxy = (targetPort: number): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<Socket>()
    let paused = false

    const server = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort })
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(from)
        from.on("data", (chunk: Buffer) => to.write(chunk))
        from.on("end", () => to.end())
        from.on("close", () => sockets.delete(from))
        // A reset on either side ends both sockets. Resets are expected when the proxy stops.
        from.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
        if (paused) from.pause()
      }
    })

    const port = yield* Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    })

    const setPaused = (value: boolean) =>
      Effect.sync(() => {
        paused = value
        for (const socket of sockets) {
          if (value) socket.pause()
          else socket.resume()
        }
      })

    const stop = Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      if (!server.listening) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })
    yield* Effect.addFinalizer(() => stop)
    return { port, pause: setPaused(true), resume: setPaused(false), stop }
  })
