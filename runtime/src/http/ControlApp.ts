/**
 * The routes that are not on the proxy's hot path, served by Effect's
 * HttpRouter: health, readiness, the model list, usage totals, Prometheus
 * metrics and the dashboard.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import { clientAbortFiberId } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { SqlError } from "@effect/sql/SqlError"
import { ModelNotFoundError, type GatewayError, type PluginRoute } from "@fluxen/sdk"
import { Cause, Context, Effect, Either, Equal, HashSet, type Redacted } from "effect"
import { adminKeyRejectionMessage, makeAdminKeyCheck, type AdminKeyRejection } from "../dashboard/adminKey.js"
import { dashboardRoutes } from "../dashboard/dashboardRoutes.js"
import { metricsRoute, type MetricsSources } from "../metrics/metricsRoute.js"
import { makeAdminKeyGuard } from "./adminKeyGuard.js"
import { makeAllowedMethods } from "./allowedMethods.js"
import { anthropicErrorBody, toAnthropicErrorBody } from "./anthropicErrorResponse.js"
import { errorResponse, internalErrorResponse } from "./errorResponse.js"
import { anthropicModel, anthropicModelPage, openAIModel, openAIModelList } from "./modelList.js"
import { mountPluginRoute } from "./pluginRoutes.js"
import { requestIdHeaders, type ApiShape } from "./requestIdHeaders.js"
import { decodeUsageQuery } from "./usageQuery.js"
import { proxyEndpoints } from "../pipeline/endpoints.js"
import { newRequestId } from "../pipeline/requestId.js"
import type { HookChain } from "../plugins/HookChain.js"
import type { ModelRouter } from "../routing/ModelRouter.js"
import { isDatabaseUnavailable } from "../usage/databaseUnavailable.js"
import { describeCause } from "../usage/describeCause.js"
import type { UsageStore } from "../usage/UsageStore.js"
import type { UsageTotal } from "../usage/usageTotals.js"

export interface ControlDependencies {
  /** Routes contributed by plugins, mounted beside the built-in ones. */
  readonly pluginRoutes: ReadonlyArray<PluginRoute>
  readonly router: ModelRouter
  /** The plugins' hooks. Their `listModels` hooks check the caller of `GET /v1/models` and narrow the list. */
  readonly hooks: HookChain
  readonly usageStore: UsageStore["Type"]
  /** False while starting or draining for shutdown. */
  readonly isReady: () => boolean
  /** Checks the usage database; fails when the query fails or times out. */
  readonly probeDatabase: Effect.Effect<void, unknown>
  /** Sources of the counters and gauges that `GET /metrics` reports. */
  readonly metrics: MetricsSources
  /** The `admin.key` that opens the dashboard. Without it the dashboard responds with 401. */
  readonly adminKey: Redacted.Redacted<string> | undefined
  /** `admin.protectMetrics`: whether `GET /metrics` needs `adminKey`. */
  readonly protectMetrics: boolean
}

const openAIError = (status: number, message: string, code: string, param: string | null = null) =>
  HttpServerResponse.unsafeJson(
    { error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param, code } },
    { status }
  )

const usageRejectionMessages: Readonly<Record<AdminKeyRejection, string>> = {
  not_configured: "The usage totals need admin.key, which the configuration file does not set.",
  missing: "The usage totals need the admin key: send 'Authorization: Bearer <admin.key>' or add ?key=<admin.key> to the URL.",
  invalid: adminKeyRejectionMessage.invalid
}

/** How long `GET /readyz` waits for the usage database to complete its probe query. */
const readinessProbeTimeout = "2 seconds"

const modelPathPrefix = "/v1/models/"

/** Reads the model id of `/v1/models/{model}`, which clients percent-encode. Returns undefined when it does not decode. */
const modelIdOfPath = (path: string): string | undefined => {
  try {
    const id = decodeURIComponent(path.slice(modelPathPrefix.length))
    return id === "" ? undefined : id
  } catch {
    return undefined
  }
}

/** Builds the response to a gateway error on the model routes, in Anthropic's shape for Anthropic clients. */
const modelRouteError = (error: GatewayError, anthropic: boolean, requestId: string) => {
  const mapped = errorResponse(error)
  const body = anthropic ? toAnthropicErrorBody(mapped, requestId) : mapped.body
  return HttpServerResponse.unsafeJson(body, { status: mapped.status, headers: mapped.headers })
}

/** Fluxen's id of the control request being served, which its response carries as a header. */
class ControlRequestId extends Context.Tag("@fluxen/runtime/ControlRequestId")<ControlRequestId, string>() {}

export const makeControlApp = (dependencies: ControlDependencies) => {
  // The Anthropic SDKs send `anthropic-version` with every request and the OpenAI SDKs never do,
  // so the header picks the shape of the list and of its errors.
  const models = HttpRouter.get(
    "/v1/models",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const requestId = yield* ControlRequestId
      const anthropic = request.headers["anthropic-version"] !== undefined
      const headers = { get: (name: string) => request.headers[name.toLowerCase()] }

      const listed = yield* Effect.either(dependencies.hooks.runListModels(headers, dependencies.router.listConfigured(), requestId))
      if (Either.isLeft(listed)) return modelRouteError(listed.left, anthropic, requestId)
      if (!anthropic) return HttpServerResponse.unsafeJson(openAIModelList(listed.right))

      const page = anthropicModelPage(listed.right, new URL(request.url, "http://fluxen.local").searchParams)
      return Either.isRight(page)
        ? HttpServerResponse.unsafeJson(page.right)
        : HttpServerResponse.unsafeJson(anthropicErrorBody(400, page.left.message, requestId), { status: 400 })
    })
  )

  // One model, which `client.models.retrieve` requests. A `provider/model` name that requests may
  // use is found too. Hooks narrow it as they narrow the list, so a key gets only its own models.
  const model = HttpRouter.get(
    "/v1/models/*",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const requestId = yield* ControlRequestId
      const anthropic = request.headers["anthropic-version"] !== undefined
      const headers = { get: (name: string) => request.headers[name.toLowerCase()] }
      const fail = (error: GatewayError) => modelRouteError(error, anthropic, requestId)

      const id = modelIdOfPath(new URL(request.url, "http://fluxen.local").pathname) ?? ""
      const described = dependencies.router.describe(id)
      if (described === undefined) return fail(new ModelNotFoundError({ model: id }))
      const listed = yield* Effect.either(dependencies.hooks.runListModels(headers, [described], requestId))
      if (Either.isLeft(listed)) return fail(listed.left)
      const found = listed.right[0]
      if (found === undefined) return fail(new ModelNotFoundError({ model: id }))
      return HttpServerResponse.unsafeJson(anthropic ? anthropicModel(found.id) : openAIModel(found))
    })
  )

  // A group whose every cost is unknown shows null, never $0. The sum stays a number inside
  // Fluxen (the dashboard and the forecaster add it up), and only the API's JSON has null.
  const withUnknownCost = (total: UsageTotal) =>
    total.requests > 0 && total.unknownCostRequests === total.requests ? { ...total, costUsd: null } : total

  const usageTotals = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = decodeUsageQuery(new URL(request.url, "http://fluxen.local").searchParams)
    if (Either.isLeft(query)) {
      return openAIError(400, query.left.message, "invalid_value", query.left.param)
    }

    const { from, to, groupBy, filters } = query.right
    const totals = yield* dependencies.usageStore.totals({ from, to, groupBy, filters })
    return HttpServerResponse.unsafeJson(
      { object: "fluxen.usage", from: from.toISOString(), to: to.toISOString(), group_by: groupBy, data: totals.map(withUnknownCost) },
      { headers: { "cache-control": "no-store" } }
    )
  })

  // The usage totals show the same figures as the dashboard, so `admin.key` guards them too. Without
  // it they stay open, as on the embedded defaults.
  const usage = HttpRouter.get(
    "/v1/fluxen/usage",
    dependencies.adminKey === undefined
      ? usageTotals
      : makeAdminKeyGuard(makeAdminKeyCheck(dependencies.adminKey), usageRejectionMessages)(usageTotals)
  )

  const health = HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" })))

  const ready = HttpRouter.get(
    "/readyz",
    Effect.gen(function* () {
      if (!dependencies.isReady()) return HttpServerResponse.unsafeJson({ status: "unavailable", reason: "starting or shutting down" }, { status: 503 })
      // `disconnect` lets the timeout return without waiting for the interrupted probe, whose
      // cancellation on a PostgreSQL connection that stopped responding takes seconds itself.
      // NOTE: until then the abandoned probe keeps any pool connection it holds.
      const database = yield* dependencies.probeDatabase.pipe(Effect.disconnect, Effect.timeout(readinessProbeTimeout), Effect.either)
      return Either.isRight(database)
        ? HttpServerResponse.unsafeJson({ status: "ready" })
        : HttpServerResponse.unsafeJson({ status: "unavailable", reason: "the usage database probe failed or timed out" }, { status: 503 })
    })
  )

  const router = dependencies.pluginRoutes.reduce(
    (routes, route) => mountPluginRoute(routes, route),
    HttpRouter.empty.pipe(
      models,
      model,
      usage,
      health,
      ready,
      metricsRoute(dependencies.metrics, dependencies.protectMetrics ? dependencies.adminKey : undefined),
      dashboardRoutes({ usageStore: dependencies.usageStore, adminKey: dependencies.adminKey, pluginRoutes: dependencies.pluginRoutes })
    )
  )

  // Built on the first request that no route matches, after HttpRouter built its own table from
  // the same routes, so that a route declared twice still fails there first, as a 500.
  let allowedMethodsOf: ((url: string) => ReadonlyArray<string>) | undefined
  const findAllowedMethods = (url: string): ReadonlyArray<string> => {
    allowedMethodsOf ??= makeAllowedMethods(router.routes)
    return allowedMethodsOf(url)
  }
  const alternatives = new Intl.ListFormat("en", { type: "disjunction" })

  return Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://fluxen.local").pathname
    const requestId = newRequestId()
    // The Anthropic SDKs read errors in Anthropic's shape. They send `anthropic-version`, which
    // also gives the model list Anthropic's shape.
    const anthropic =
      path === "/v1/messages" ||
      path.startsWith("/v1/messages/") ||
      ((path === "/v1/models" || path.startsWith("/v1/models/")) && request.headers["anthropic-version"] !== undefined)
    const shape: ApiShape = anthropic ? "anthropic" : "openai"
    const errorFor = (status: number, message: string, code: string) =>
      shape === "anthropic"
        ? HttpServerResponse.unsafeJson(anthropicErrorBody(status, message, requestId), { status })
        : openAIError(status, message, code)

    // The servers send only POST requests to the proxied routes and every other request here, so
    // a proxied path with another method ends here too.
    const unmatchedRoute = Effect.sync(() => {
      const allowed = request.method !== "POST" && proxyEndpoints.has(path) ? ["POST"] : findAllowedMethods(request.url)
      if (allowed.length === 0) return errorFor(404, `Unknown route ${request.method} ${path}.`, "not_found")
      const message = `Method ${request.method} is not allowed on ${path}. Use ${alternatives.format(allowed)}.`
      return HttpServerResponse.setHeader(errorFor(405, message, "method_not_allowed"), "allow", allowed.join(", "))
    })

    // A database that does not respond is an outage for the client to wait out, not a fault of
    // Fluxen, so it gets a 503 and one warning without a stack trace.
    const usageDatabaseUnavailable = (error: SqlError) =>
      Effect.as(
        Effect.logWarning(`The usage database did not respond or could not be reached, so ${request.method} ${path} returned 503`).pipe(
          Effect.annotateLogs({ "request.id": requestId, error: describeCause(error, []) })
        ),
        errorFor(
          503,
          `Fluxen could not read usage because the usage database did not respond or could not be reached. Try again later. Fluxen's log has the details under request id ${requestId}.`,
          "usage_database_unavailable"
        )
      )

    // A route interrupted because its client disconnected is no server failure, so it logs at
    // debug level. The client never reads the response, whose status 499 follows Effect's HTTP server.
    const interruptedResponse = (cause: Cause.Cause<unknown>) => {
      const clientDisconnected = HashSet.some(Cause.interruptors(cause), (fiberId) => Equal.equals(fiberId, clientAbortFiberId))
      const message = clientDisconnected
        ? "Control route stopped because the client disconnected"
        : "Control route stopped because it was interrupted"
      return Effect.as(
        Effect.logDebug(message).pipe(Effect.annotateLogs({ "request.id": requestId, "url.path": path })),
        HttpServerResponse.empty({ status: clientDisconnected ? 499 : 503 })
      )
    }

    const response = yield* router.pipe(
      Effect.provideService(ControlRequestId, requestId),
      Effect.catchTag("RouteNotFound", () => unmatchedRoute),
      Effect.catchTag("SqlError", (error) => (isDatabaseUnavailable(error) ? usageDatabaseUnavailable(error) : Effect.fail(error))),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? interruptedResponse(cause)
          : Effect.as(
              Effect.logError("Control route failed", cause).pipe(Effect.annotateLogs({ "request.id": requestId })),
              errorFor(500, internalErrorResponse(requestId).body.error.message, "internal_error")
            )
      )
    )
    return HttpServerResponse.setHeaders(response, requestIdHeaders(requestId, shape))
  })
}
