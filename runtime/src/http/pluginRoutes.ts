/** Mounting a plugin's routes on the control router: request parsing and error mapping. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { InvalidRequestError, type PluginRoute } from "@fluxen/sdk"
import { Effect } from "effect"
import { errorResponse } from "./errorResponse.js"

const readJsonBody = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function* () {
    const text = yield* request.text.pipe(
      Effect.mapError(() => new InvalidRequestError({ message: "The request body could not be read.", code: "invalid_body" }))
    )
    if (text.trim() === "") return undefined
    return yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => new InvalidRequestError({ message: "The request body is not valid JSON.", code: "invalid_json" })
    })
  })

export const mountPluginRoute = <E, R>(router: HttpRouter.HttpRouter<E, R>, route: PluginRoute) =>
  HttpRouter.route(route.method)(
    route.path as HttpRouter.PathInput,
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const params = yield* HttpRouter.params
      const url = new URL(request.url, "http://fluxen.local")
      const body = yield* readJsonBody(request)
      const response = yield* route.handle({
        method: route.method,
        path: url.pathname,
        headers: { get: (name) => request.headers[name.toLowerCase()] },
        query: url.searchParams,
        params: params as Record<string, string>,
        body
      })
      const headers = response.headers ?? {}
      return response.contentType === undefined
        ? HttpServerResponse.unsafeJson(response.body, { status: response.status, headers })
        : HttpServerResponse.text(String(response.body), { status: response.status, headers, contentType: response.contentType })
    }).pipe(
      Effect.catchAll((error) => {
        const mapped = errorResponse(error)
        return Effect.succeed(HttpServerResponse.unsafeJson(mapped.body, { status: mapped.status, headers: mapped.headers }))
      })
    )
  )(router)
