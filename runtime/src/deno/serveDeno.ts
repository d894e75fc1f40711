/**
 * The `Deno.serve` server in front of a gateway. Closing the scope shuts it
 * down as Node's server does: it stops accepting, in-flight requests and
 * streams get until the deadline to finish, then the rest are cut off and
 * recorded as cancelled.
 */
import { Effect } from "effect"
import type { Gateway } from "../Gateway.js"
import { drainRequests } from "../http/drainRequests.js"
import { ServerListenError } from "../node/ServerListenError.js"
import type { WebHandler } from "../web/webHandler.js"
import { Deno } from "./denoGlobal.js"

export interface DenoServerOptions {
  readonly host: string
  readonly port: number
  /** How long shutdown waits for in-flight requests, in milliseconds. */
  readonly shutdownTimeoutMs: number
}

/** Serves `gateway` and returns its URL. */
export const serveDeno = (gateway: Gateway, handler: WebHandler, options: DenoServerOptions) =>
  Effect.gen(function* () {
    const server = yield* Effect.acquireRelease(
      Effect.try({
        // Without `onListen`, Deno prints a bare "Listening on" line among the log lines.
        try: () => Deno.serve({ hostname: options.host, port: options.port, onListen: () => undefined }, handler.handle),
        catch: (error) => {
          const cause = error instanceof Error ? error : new Error(String(error))
          const code = (cause as { readonly code?: unknown }).code
          return new ServerListenError({ host: options.host, port: options.port, code: typeof code === "string" ? code : undefined, cause })
        }
      }),
      (server) =>
        Effect.gen(function* () {
          gateway.setReady(false)
          const deadline = Date.now() + options.shutdownTimeoutMs
          // `shutdown()` stops accepting at once. It waits for every response without a deadline,
          // so the drain below bounds the proxied requests, and the rest of the deadline bounds the
          // control routes, which the drain does not count.
          const closed = server.shutdown()
          yield* drainRequests(gateway.inflight, { shutdownTimeoutMs: options.shutdownTimeoutMs, cutOff: handler.cutOffOpenRequests })
          yield* Effect.promise(() => closed).pipe(Effect.interruptible, Effect.timeout(Math.max(0, deadline - Date.now())), Effect.ignore)
          yield* Effect.logInfo("HTTP server closed")
        })
    )
    return `http://${server.addr.hostname}:${server.addr.port}`
  })
