/**
 * Reading the optional plugin routes and showing their responses: the
 * forecaster's forecast and recommendations, and the policy plugin's
 * budgets. The response fields read here are those of
 * plugins/forecaster/src/routes.ts and plugins/policy/src/AdminApi.ts.
 * A response without them shows a message naming the route, never a blank panel.
 */
import type { PluginRoutePaths } from "../DashboardData.js"
import { byId, element, showMessage } from "./dom.js"
import { formatUsd } from "./format.js"

/** The result of reading a plugin route, or several. */
export type PluginRouteResult<A> =
  | { readonly kind: "not_enabled" }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "ok"; readonly value: A }

type Fields = Readonly<Record<string, unknown>>

const isFields = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value)

const numberField = (fields: Fields, key: string): number | undefined => {
  const value = fields[key]
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

const stringField = (fields: Fields, key: string): string | undefined => {
  const value = fields[key]
  return typeof value === "string" ? value : undefined
}

/** Returns the array under `key` of a JSON object, keeping only its object items. */
const listField = (body: unknown, key: string): ReadonlyArray<Fields> | undefined => {
  const list = isFields(body) ? body[key] : undefined
  return Array.isArray(list) ? list.filter(isFields) : undefined
}

const failed = (message: string): PluginRouteResult<never> => ({ kind: "failed", message })

/** Reads one plugin route with the admin key and decodes its JSON body with `read`, which returns undefined for a body it cannot use. */
export const fetchPluginRoute = async <A>(
  path: string,
  headers: HeadersInit,
  read: (body: unknown) => A | undefined
): Promise<PluginRouteResult<A>> => {
  try {
    const response = await fetch(path, { headers })
    if (response.status === 404) return { kind: "not_enabled" }
    if (response.status === 401 || response.status === 403) {
      return failed(`${path} rejected the admin key (HTTP ${response.status}). Give the plugin the same key as admin.key.`)
    }
    if (!response.ok) return failed(`${path} responded with HTTP ${response.status}.`)
    const value = read((await response.json()) as unknown)
    return value === undefined ? failed(`The response of ${path} lacks the fields this page reads.`) : { kind: "ok", value }
  } catch (error) {
    return failed(`Reading ${path} failed: ${String(error)}`)
  }
}

// ============================================================================
// Forecast
// ============================================================================

/** One forecast day, in US dollars, with its 80% interval. */
export interface ForecastPoint {
  /** The UTC date, `YYYY-MM-DD`. */
  readonly day: string
  readonly expectedUsd: number
  readonly lowerUsd: number
  readonly upperUsd: number
}

/** The projection of the spend at the end of the forecast period. */
export interface ForecastProjection {
  readonly spentUsd: number
  readonly projectedUsd: number
  readonly lowerUsd: number
  readonly upperUsd: number
}

/** A configured budget of the forecast's scope and period, with its projected use. */
export interface BudgetOutlook {
  readonly limitUsd: number
  readonly projectedFraction: number
  /** `within-budget`, `projected-to-exceed` or `exceeded`. */
  readonly status: string
}

export interface Forecast {
  readonly period: string
  readonly points: ReadonlyArray<ForecastPoint>
  readonly projection: ForecastProjection
  readonly budgets: ReadonlyArray<BudgetOutlook>
}

/** The forecast of global spend over the current month. */
export const forecastQuery = "?scope=global&period=month"

/** Decodes a `GET /v1/fluxen/forecast` body, or returns undefined when a field the page reads is missing. */
export const readForecast = (body: unknown): Forecast | undefined => {
  const items = listField(body, "forecast")
  const projection = isFields(body) && isFields(body.projection) ? body.projection : undefined
  if (items === undefined || projection === undefined) return undefined

  const points: Array<ForecastPoint> = []
  for (const item of items) {
    const day = stringField(item, "date")
    const expectedUsd = numberField(item, "cost_usd")
    const lowerUsd = numberField(item, "lower_80")
    const upperUsd = numberField(item, "upper_80")
    if (day === undefined || expectedUsd === undefined || lowerUsd === undefined || upperUsd === undefined) return undefined
    points.push({ day: day.slice(0, 10), expectedUsd, lowerUsd, upperUsd })
  }

  const spentUsd = numberField(projection, "spent_usd")
  const projectedUsd = numberField(projection, "projected_usd")
  const lowerUsd = numberField(projection, "lower_80")
  const upperUsd = numberField(projection, "upper_80")
  if (spentUsd === undefined || projectedUsd === undefined || lowerUsd === undefined || upperUsd === undefined) return undefined

  const budgets: Array<BudgetOutlook> = []
  for (const item of listField(body, "budgets") ?? []) {
    const limitUsd = numberField(item, "limit_usd")
    const projectedFraction = numberField(item, "projected_fraction")
    const status = stringField(item, "status")
    if (limitUsd !== undefined && projectedFraction !== undefined && status !== undefined) budgets.push({ limitUsd, projectedFraction, status })
  }

  const period = isFields(body) ? (stringField(body, "period") ?? "period") : "period"
  return { period, points, projection: { spentUsd, projectedUsd, lowerUsd, upperUsd }, budgets }
}

/** Describes the forecast in one line under the spend chart. */
export const describeForecast = (result: PluginRouteResult<Forecast>): string => {
  if (result.kind === "not_enabled") return "Forecast not enabled: the forecaster plugin is not loaded."
  if (result.kind === "failed") return `Forecast unavailable: ${result.message}`

  const { period, projection, budgets } = result.value
  const parts = [
    `Projected for this ${period}: ${formatUsd(projection.projectedUsd)} ` +
      `(80% interval ${formatUsd(projection.lowerUsd)} to ${formatUsd(projection.upperUsd)}), ` +
      `${formatUsd(projection.spentUsd)} spent so far.`
  ]
  for (const budget of budgets) {
    parts.push(`Budget ${formatUsd(budget.limitUsd)}: ${Math.round(budget.projectedFraction * 100)}% projected, ${budget.status.replace(/-/g, " ")}.`)
  }
  return parts.join(" ")
}

// ============================================================================
// Budgets
// ============================================================================

/** One budget with its spend in the current period. */
export interface BudgetRow {
  readonly scope: string
  /** The team, key id or model; null for the global budget. */
  readonly name: string | null
  readonly period: string
  readonly limitUsd: number
  readonly spentUsd: number
  readonly reservedUsd: number
}

/**
 * Keys whose spend the page reads. Budgets that only a key beyond the first
 * this many has are not shown.
 */
const maxKeysRead = 100

const readKeyIds = (body: unknown): ReadonlyArray<string> | undefined => {
  const keys = listField(body, "data")
  if (keys === undefined) return undefined
  return keys.filter((key) => key.revoked_at === null || key.revoked_at === undefined).flatMap((key) => {
    const id = stringField(key, "id")
    return id === undefined ? [] : [id]
  })
}

const readKeyBudgets = (body: unknown): ReadonlyArray<BudgetRow> | undefined => {
  const budgets = listField(body, "budgets")
  if (budgets === undefined) return undefined
  return budgets.flatMap((budget): Array<BudgetRow> => {
    const scope = stringField(budget, "scope")
    const period = stringField(budget, "period")
    const limitUsd = numberField(budget, "limit_usd")
    const spentUsd = numberField(budget, "spent_usd")
    if (scope === undefined || period === undefined || limitUsd === undefined || spentUsd === undefined) return []
    return [{ scope, name: stringField(budget, "name") ?? null, period, limitUsd, spentUsd, reservedUsd: numberField(budget, "reserved_usd") ?? 0 }]
  })
}

/**
 * Reads every budget that applies to an active key: the key list, then each
 * key's spend report. A team or global budget appears in the report of
 * every key it applies to, so rows are kept once per scope, name and period.
 */
export const fetchBudgets = async (paths: PluginRoutePaths, headers: HeadersInit): Promise<PluginRouteResult<ReadonlyArray<BudgetRow>>> => {
  if (paths.policyKeys === null || paths.policyKeySpend === null) return { kind: "not_enabled" }
  const keySpendPath = paths.policyKeySpend

  const keyIds = await fetchPluginRoute(paths.policyKeys, headers, readKeyIds)
  if (keyIds.kind !== "ok") return keyIds

  const reports = await Promise.all(
    keyIds.value
      .slice(0, maxKeysRead)
      .map((id) => fetchPluginRoute(keySpendPath.replace(":id", encodeURIComponent(id)), headers, readKeyBudgets))
  )
  const rows = new Map<string, BudgetRow>()
  for (const report of reports) {
    if (report.kind === "failed") return report
    // A key revoked or deleted since the list was read has no report (HTTP 404).
    if (report.kind === "not_enabled") continue
    for (const row of report.value) rows.set(JSON.stringify([row.scope, row.name, row.period]), row)
  }
  return { kind: "ok", value: [...rows.values()] }
}

const renderBudgetRow = (budget: BudgetRow): HTMLTableRowElement => {
  const label = budget.name === null ? budget.scope : `${budget.scope}: ${budget.name}`
  const used = budget.limitUsd > 0 ? budget.spentUsd / budget.limitUsd : 0

  const bar = element("span")
  bar.style.width = `${Math.min(100, Math.round(used * 100))}%`
  let meterClass = "meter"
  if (used >= 1) meterClass = "meter over"
  else if (used >= 0.8) meterClass = "meter warning"

  return element("tr", {}, [
    element("td", { text: label, title: label }),
    element("td", { text: budget.period }),
    element("td", { text: `${formatUsd(budget.spentUsd)} of ${formatUsd(budget.limitUsd)}` }),
    element("td", { text: `${Math.round(used * 100)}%` }),
    element("td", {}, [element("div", { className: meterClass }, [bar])])
  ])
}

/** Shows the budgets with their spend in the current period. */
export const renderBudgets = (containerId: string, result: PluginRouteResult<ReadonlyArray<BudgetRow>>): void => {
  if (result.kind === "not_enabled") return showMessage(containerId, "Not enabled: the policy plugin is not loaded.")
  if (result.kind === "failed") return showMessage(containerId, result.message)
  if (result.value.length === 0) return showMessage(containerId, "No key has a budget.")

  const header = element("tr", {}, ["Budget", "Period", "Spent", "Used", ""].map((text) => element("th", { text })))
  byId(containerId).replaceChildren(element("table", {}, [element("thead", {}, [header]), element("tbody", {}, result.value.map(renderBudgetRow))]))
}

// ============================================================================
// Recommendations
// ============================================================================

/** A cheaper model that could serve a model's traffic. */
export interface Recommendation {
  readonly from: string
  readonly to: string
  readonly summary: string
  readonly monthlySavingUsd: number
  readonly confidence: string
}

/** At most this many recommendations are listed. */
const maxRecommendations = 10

/** Decodes a `GET /v1/fluxen/recommendations` body, skipping items without the fields the page reads. */
export const readRecommendations = (body: unknown): ReadonlyArray<Recommendation> | undefined => {
  const items = listField(body, "data")
  if (items === undefined) return undefined
  return items.flatMap((item): Array<Recommendation> => {
    const from = stringField(item, "from")
    const to = stringField(item, "to")
    const monthlySavingUsd = numberField(item, "monthly_saving_usd")
    if (from === undefined || to === undefined || monthlySavingUsd === undefined) return []
    const why = isFields(item.why) ? item.why : {}
    return [{ from, to, summary: stringField(why, "summary") ?? "", monthlySavingUsd, confidence: stringField(item, "confidence") ?? "unknown" }]
  })
}

/** Lists the recommendations, largest saving first. */
export const renderRecommendations = (containerId: string, result: PluginRouteResult<ReadonlyArray<Recommendation>>): void => {
  if (result.kind === "not_enabled") return showMessage(containerId, "Not enabled: the forecaster plugin is not loaded.")
  if (result.kind === "failed") return showMessage(containerId, result.message)
  if (result.value.length === 0) return showMessage(containerId, "No recommendations: no model has a cheaper candidate for its recent traffic.")

  const entries = [...result.value]
    .sort((a, b) => b.monthlySavingUsd - a.monthlySavingUsd)
    .slice(0, maxRecommendations)
    .map((recommendation) => {
      const children: Array<Node> = [element("span", { text: `${recommendation.from} → ${recommendation.to}` })]
      children.push(element("span", { className: "saving", text: ` saves about ${formatUsd(recommendation.monthlySavingUsd)} a month` }))
      children.push(element("span", { className: "muted", text: ` (${recommendation.confidence} confidence)` }))
      if (recommendation.summary !== "") children.push(element("div", { className: "muted", text: recommendation.summary }))
      return element("li", {}, children)
    })
  byId(containerId).replaceChildren(element("ol", { className: "recommendations" }, entries))
}
