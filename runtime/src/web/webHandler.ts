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

export const makeWebHandler = (gateway: Gateway) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const control = HttpApp.toWebHandlerRuntime(runtime)(gateway.controlApp)
    return (request: Request): Promise<Response> => {
      const path = new URL(request.url).pathname
      const spec = request.method === "POST" ? proxyEndpoints.get(path) : undefined
      if (spec === undefined) return control(request)
      const { exchange, response } = makeWebExchange(request, path)
      gateway.proxy(exchange, spec)
      return response
    }
  })
