/**
 * A TCP proxy on a loopback port that a test pauses and resumes, to make
 * Redis hang for the code under test without touching the Redis server.
 * While paused it reads nothing, so the bytes sent wait in the socket
 * buffers and are delivered in order on resume, as with a Redis that
 * stalled and came back. Not part of the package build.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { createConnection, createServer, type Socket } from "node:net"

export interface PausableTcpProxy {
  readonly port: number
  /** Stops forwarding in both directions and keeps every connection open. */
  readonly pause: Effect.Effect<void>
  /** Forwards again, first the bytes held back while paused. */
  readonly resume: Effect.Effect<void>
}

/** Starts a proxy from a free loopback port to `127.0.0.1:targetPort`, which closes with the scope. */
export const startPausableTcpProxy = (targetPort: number): Effect.Effect<PausableTcpProxy, never, Scope.Scope> =>
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
        // A reset on either side ends both sockets. Resets are expected when the proxy closes.
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

    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
    )
    return { port, pause: setPaused(true), resume: setPaused(false) }
  })
