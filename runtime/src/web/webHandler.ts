/**
 * A gateway as a fetch-API handler, `(Request) => Promise<Response>`:
 * proxied routes through the request pipeline, everything else through
 * Effect's HttpApp converted to a web handler.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import { Effect } from "effect"
import type { Gateway } from "../Gateway.js"
import { proxyEndpoints } from "../pipeline/endpoints.js"
import { makeWebExchange } from "./WebExchange.js"

export interface WebHandler {
  readonly handle: (request: Request) => Promise<Response>
  /**
   * Ends every proxied request whose response is not complete as if its client had left, for
   * the shutdown deadline: the pipeline records them as cancelled and aborts their upstream calls.
   */
  readonly cutOffOpenRequests: () => void
}

export const makeWebHandler = (gateway: Gateway) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const control = HttpApp.toWebHandlerRuntime(runtime)(gateway.controlApp)
    const open = new Set<() => void>()
    const handler: WebHandler = {
      handle: (request) => {
        const path = new URL(request.url).pathname
        const spec = request.method === "POST" ? proxyEndpoints.get(path) : undefined
        if (spec === undefined) return control(request)
        const { exchange, response, cutOff } = makeWebExchange(request, path, spec.errorShape, () => open.delete(cutOff))
        open.add(cutOff)
        gateway.proxy(exchange, spec)
        return response
      },
      cutOffOpenRequests: () => {
        for (const cutOff of [...open]) cutOff()
      }
    }
    return handler
  })
