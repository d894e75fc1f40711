/**
 * The dashboard's routes: the page (`GET /dashboard`), its data
 * (`GET /v1/fluxen/dashboard-data`), both behind the admin key, and the
 * static scripts and styles it loads (`GET /dashboard/assets/:name`), which
 * contain no data and need no key.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { PluginRoute } from "@fluxen/sdk"
import { Effect, Either, Schema, type Redacted } from "effect"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { makeAdminKeyGuard } from "../http/adminKeyGuard.js"
import type { UsageStore } from "../usage/UsageStore.js"
import { adminKeyRejectionMessage, makeAdminKeyCheck } from "./adminKey.js"
import { findPluginRoutePaths, readDashboardData } from "./DashboardData.js"
import { dashboardHtml } from "./dashboardPage.js"
import { dashboardCss } from "./dashboardStyles.js"

export interface DashboardOptions {
  readonly usageStore: UsageStore["Type"]
  /** The configured `admin.key`; without it every guarded route responds with 401. */
  readonly adminKey: Redacted.Redacted<string> | undefined
  /** The plugins' routes, searched for the forecast, recommendations and budgets the page shows. */
  readonly pluginRoutes: ReadonlyArray<PluginRoute>
}

const DataQuery = Schema.Struct({
  days: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 366)), { default: () => 30 })
})

const topCount = 10
const latencyRecordLimit = 20_000

const javascript = "text/javascript; charset=utf-8"
const stylesheet = "text/css; charset=utf-8"

// Scripts may come only from this server, and the page may fetch only this server.
const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

interface Asset {
  readonly contentType: string
  readonly load: () => Promise<string>
}

const fileAsset = (path: string, contentType: string): Asset => ({ contentType, load: () => readFile(path, "utf8") })

const require = createRequire(import.meta.url)

/** The browser modules compiled from `./browser/*.ts`; `main.js` imports the others. */
const browserModules = ["main.js", "budgetPanel.js", "charts.js", "dom.js", "format.js", "panels.js", "pluginPanels.js"]

/** Every file under `/dashboard/assets/`, by name. Only these names are served, so no path reaches the file system from a request. */
const assets: ReadonlyMap<string, Asset> = new Map([
  ["uPlot.iife.min.js", fileAsset(require.resolve("uplot/dist/uPlot.iife.min.js"), javascript)],
  ["uPlot.min.css", fileAsset(require.resolve("uplot/dist/uPlot.min.css"), stylesheet)],
  ["dashboard.css", { contentType: stylesheet, load: () => Promise.resolve(dashboardCss) }],
  ...browserModules.map((name): [string, Asset] => [name, fileAsset(fileURLToPath(new URL(`./browser/${name}`, import.meta.url)), javascript)])
])

const errorJson = (
  status: number,
  message: string,
  code: string,
  options: { readonly param?: string; readonly headers?: Record<string, string> } = {}
) =>
  HttpServerResponse.unsafeJson(
    { error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: options.param ?? null, code } },
    { status, headers: { "cache-control": "no-store", ...options.headers } }
  )

/**
 * Reads `?days=`, 30 when absent. The page checks it too, although only the data route uses
 * it, so that a page opened with an invalid value gets the same 400 as its data.
 */
const readDays = (request: HttpServerRequest.HttpServerRequest): Either.Either<number, HttpServerResponse.HttpServerResponse> => {
  const params = Object.fromEntries(new URL(request.url, "http://fluxen.local").searchParams)
  const query = Schema.decodeUnknownEither(DataQuery)(params)
  if (Either.isRight(query)) return Either.right(query.right.days)
  const message = `Invalid 'days': expected a whole number from 1 to 366, got ${JSON.stringify(params.days)}.`
  return Either.left(errorJson(400, message, "invalid_value", { param: "days" }))
}

/** Adds the dashboard's routes to a router. */
export const dashboardRoutes = (options: DashboardOptions) => {
  const guarded = makeAdminKeyGuard(makeAdminKeyCheck(options.adminKey), adminKeyRejectionMessage)
  const pluginRoutePaths = findPluginRoutePaths(options.pluginRoutes)
  // Assets do not change while the process runs, so each is read from disk once.
  const loadedAssets = new Map<string, Promise<string>>()

  const pageResponse = HttpServerResponse.text(dashboardHtml, {
    contentType: "text/html; charset=utf-8",
    headers: {
      "cache-control": "no-store",
      "content-security-policy": contentSecurityPolicy,
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff"
    }
  })

  const page = HttpRouter.get(
    "/dashboard",
    guarded(
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        Either.match(readDays(request), { onLeft: (rejection) => rejection, onRight: () => pageResponse })
      )
    )
  )

  const data = HttpRouter.get(
    "/v1/fluxen/dashboard-data",
    guarded(
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const days = readDays(request)
        if (Either.isLeft(days)) return days.left

        const result = yield* readDashboardData(options.usageStore, pluginRoutePaths, {
          now: new Date(),
          days: days.right,
          topCount,
          latencyRecordLimit
        })
        return HttpServerResponse.unsafeJson(result, { headers: { "cache-control": "no-store" } })
      })
    )
  )

  const asset = HttpRouter.get(
    "/dashboard/assets/:name",
    Effect.gen(function* () {
      const { name } = yield* HttpRouter.params
      const entry = name === undefined ? undefined : assets.get(name)
      if (name === undefined || entry === undefined) {
        return errorJson(404, `The dashboard has no asset named '${String(name)}'.`, "not_found")
      }
      let loading = loadedAssets.get(name)
      if (loading === undefined) {
        // A failed read is forgotten, so the next request tries the file again.
        loading = entry.load().catch((error: unknown) => {
          loadedAssets.delete(name)
          throw error
        })
        loadedAssets.set(name, loading)
      }
      const body = yield* Effect.tryPromise(() => loading)
      return HttpServerResponse.text(body, {
        contentType: entry.contentType,
        headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" }
      })
    })
  )

  return <E, R>(router: HttpRouter.HttpRouter<E, R>) => router.pipe(page, data, asset)
}
