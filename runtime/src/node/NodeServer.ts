/**
 * The node:http server in front of a `Gateway`. Proxied routes go straight
 * to the request pipeline; every other route goes through Effect's
 * HttpServer handler. Closing the scope drains: the server stops accepting,
 * in-flight requests and streams get until the deadline to finish, then the
 * remaining proxied responses end with a shutdown error and the remaining
 * connections are closed.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Runtime } from "effect"
import * as Http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import type { Gateway } from "../Gateway.js"
import { drainRequests } from "../http/drainRequests.js"
import { makeNodeExchange, openExchangesOf } from "../http/NodeExchange.js"
import { proxyEndpoints } from "../pipeline/endpoints.js"
import { ServerListenError } from "./ServerListenError.js"

export interface NodeServerOptions {
  readonly host: string
  readonly port: number
  /** How long shutdown waits for in-flight requests, in milliseconds. */
  readonly shutdownTimeoutMs: number
}

export interface ListeningServer {
  readonly url: string
  readonly port: number
}

/**
 * How long the responses ended at the shutdown deadline get to reach their clients before their
 * connections close. A client that stopped reading delays the shutdown by no more than this.
 */
const cutOffFlushMs = 1_000

/** Resolves when every promise settled or after `ms` milliseconds, whichever comes first. */
const settleWithin = (promises: ReadonlyArray<Promise<void>>, ms: number): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    void Promise.allSettled(promises).then(() => {
      clearTimeout(timer)
      resolve()
    })
  })

const pathOf = (url: string | undefined): string => {
  if (url === undefined) return "/"
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/** Serves whichever gateway `current()` returns, so that a reload can swap it. */
export const serveNode = (current: () => Gateway, options: NodeServerOptions) =>
  Effect.gen(function* () {
    const controlHandlers = new WeakMap<Gateway, (request: Http.IncomingMessage, response: Http.ServerResponse) => void>()
    const controlHandlerOf = (gateway: Gateway) =>
      Effect.gen(function* () {
        const existing = controlHandlers.get(gateway)
        if (existing !== undefined) return existing
        const handler = yield* NodeHttpServer.makeHandler(gateway.controlApp)
        controlHandlers.set(gateway, handler)
        return handler
      })
    const runtime = yield* Effect.runtime<never>()
    const server = Http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 })
    // Tracked per connection, which lives long, so that shutdown finds the open exchanges.
    const sockets = new Set<Socket>()
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })

    server.on("request", (request, response) => {
      const gateway = current()
      const spec = request.method === "POST" ? proxyEndpoints.get(pathOf(request.url)) : undefined
      if (spec !== undefined) return gateway.proxy(makeNodeExchange(request, response, spec.errorShape), spec)
      const handler = controlHandlers.get(gateway) ?? Runtime.runSync(runtime)(controlHandlerOf(gateway))
      handler(request, response)
    })

    const address = yield* Effect.acquireRelease(
      Effect.async<AddressInfo, ServerListenError>((resume) => {
        const onError = (error: NodeJS.ErrnoException) =>
          resume(Effect.fail(new ServerListenError({ host: options.host, port: options.port, code: error.code, cause: error })))
        server.once("error", onError)
        server.listen(options.port, options.host, () => {
          server.off("error", onError)
          resume(Effect.succeed(server.address() as AddressInfo))
        })
      }),
      () =>
        Effect.gen(function* () {
          const gateway = current()
          gateway.setReady(false)
          server.close()
          server.closeIdleConnections()
          yield* drainRequests(gateway.inflight, {
            shutdownTimeoutMs: options.shutdownTimeoutMs,
            cutOff: () => {
              const closed: Array<Promise<void>> = []
              for (const socket of sockets) {
                for (const exchange of openExchangesOf(socket)) closed.push(exchange.cutOff())
              }
              // Not `closeIdleConnections`, because on Node 20 it destroys a connection as soon as its
              // current response has ended. That drops the responses of pipelined requests waiting
              // behind it, and the part of that response still buffered in the socket.
              return settleWithin(closed, cutOffFlushMs).then(() => server.closeAllConnections())
            }
          })
          yield* Effect.logInfo("HTTP server closed")
        })
    )
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    const listening: ListeningServer = { url: `http://${host}:${address.port}`, port: address.port }
    return listening
  })
