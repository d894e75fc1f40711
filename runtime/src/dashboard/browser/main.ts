/**
 * The dashboard's entry script. It reads the usage numbers and the optional
 * plugin routes with the admin key taken from the page's `?key=`, then fills
 * the page. When it is done, `<body data-state>` is `ready` or `failed`.
 */
import type { DashboardData } from "../DashboardData.js"
import { drawCacheChart, drawLatencyChart, drawRequestsChart, drawSpendChart, drawTokensChart } from "./charts.js"
import { byId, setText } from "./dom.js"
import { renderTiles, renderTopTable } from "./panels.js"
import { fetchBudgets, renderBudgets } from "./budgetPanel.js"
import {
  describeForecast,
  fetchPluginRoute,
  forecastQuery,
  readForecast,
  readRecommendations,
  renderRecommendations,
  type PluginRouteResult
} from "./pluginPanels.js"

const pageParameters = new URLSearchParams(window.location.search)
const adminKey = pageParameters.get("key")
// Without `?key=` the page was opened with an Authorization header (a proxy that adds it), which then applies to these reads too.
const headers: Record<string, string> = adminKey === null || adminKey === "" ? {} : { authorization: `Bearer ${adminKey}` }

const showStatus = (text: string): void => {
  const status = byId("status")
  status.hidden = false
  status.textContent = text
}

const readErrorMessage = async (response: Response): Promise<string> => {
  try {
    const body = (await response.json()) as { error?: { message?: unknown } }
    if (typeof body.error?.message === "string") return body.error.message
  } catch {
    // The body is not JSON, so the message falls back to the HTTP status text.
  }
  return response.statusText
}

const notEnabled = { kind: "not_enabled" } as const

/** Reads a plugin route when a loaded plugin serves it. */
const readIfServed = <A>(path: string | null, query: string, read: (body: unknown) => A | undefined): Promise<PluginRouteResult<A>> =>
  path === null ? Promise.resolve(notEnabled) : fetchPluginRoute(path + query, headers, read)

const load = async (): Promise<void> => {
  const days = pageParameters.get("days") ?? "30"
  const response = await fetch(`/v1/fluxen/dashboard-data?days=${encodeURIComponent(days)}`, { headers })
  if (!response.ok) {
    showStatus(`Reading the usage data failed with HTTP ${response.status}: ${await readErrorMessage(response)}`)
    document.body.dataset.state = "failed"
    return
  }
  const data = (await response.json()) as DashboardData
  const firstDay = data.days[0]?.day ?? ""
  const lastDay = data.days[data.days.length - 1]?.day ?? ""
  setText("range", `${firstDay} to ${lastDay} (UTC), read at ${data.to.slice(11, 16)} UTC`)

  renderTiles(data)
  renderTopTable("top-models", "Model", data.topModels)
  renderTopTable("top-keys", "Key", data.topKeys)
  renderTopTable("top-teams", "Team", data.topTeams)
  drawTokensChart(data)
  drawRequestsChart(data)
  drawCacheChart(data)
  drawLatencyChart(data)

  const [forecastResult, recommendationsResult, budgetsResult] = await Promise.all([
    readIfServed(data.pluginRoutes.forecast, forecastQuery, readForecast),
    readIfServed(data.pluginRoutes.recommendations, "", readRecommendations),
    fetchBudgets(data.pluginRoutes, headers)
  ])
  drawSpendChart(data, forecastResult.kind === "ok" ? forecastResult.value.points : undefined)
  setText("forecast-note", describeForecast(forecastResult))
  renderBudgets("budgets", budgetsResult)
  renderRecommendations("recommendations", recommendationsResult)
  document.body.dataset.state = "ready"
}

load().catch((error: unknown) => {
  showStatus(`The dashboard failed: ${error instanceof Error ? error.message : String(error)}`)
  document.body.dataset.state = "failed"
})
