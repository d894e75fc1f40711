/**
 * Reading the optional plugin routes and showing their responses: the
 * forecaster's forecast and recommendations. `budgetPanel.ts` shows the
 * budgets. The response fields read here are those of
 * plugins/forecaster/src/routeEncoding.ts and plugins/policy/src/AdminApi.ts.
 * A response without them shows a message naming the route, never a blank panel.
 */
import { byId, element, showMessage } from "./dom.js"
import { formatUsd } from "./format.js"

/** The result of reading a plugin route, or several. */
export type PluginRouteResult<A> =
  | { readonly kind: "not_enabled" }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "ok"; readonly value: A }

export type Fields = Readonly<Record<string, unknown>>

const isFields = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value)

export const numberField = (fields: Fields, key: string): number | undefined => {
  const value = fields[key]
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

export const stringField = (fields: Fields, key: string): string | undefined => {
  const value = fields[key]
  return typeof value === "string" ? value : undefined
}

/** Returns the array under `key` of a JSON object, keeping only its object items. */
export const listField = (body: unknown, key: string): ReadonlyArray<Fields> | undefined => {
  const list = isFields(body) ? body[key] : undefined
  return Array.isArray(list) ? list.filter(isFields) : undefined
}

/** Reads a number that the route sends as null when it has none: null for null, undefined when missing or not a number. */
const nullableNumberField = (fields: Fields, key: string): number | null | undefined => (fields[key] === null ? null : numberField(fields, key))

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

/** One forecast day, in US dollars, with its 80% interval, null when the history is too short for one. */
export interface ForecastPoint {
  /** The UTC date, `YYYY-MM-DD`. */
  readonly day: string
  readonly expectedUsd: number
  readonly lowerUsd: number | null
  readonly upperUsd: number | null
}

/** The projection of the spend at the end of the forecast period. */
export interface ForecastProjection {
  readonly spentUsd: number
  readonly projectedUsd: number
  readonly lowerUsd: number | null
  readonly upperUsd: number | null
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
  /** The forecasting method, such as `holt-winters` or `mean`. */
  readonly method: string
  /** Complete days of history the method was fitted on. */
  readonly historyDays: number
  /** True for a forecast on less than a week of history. */
  readonly preliminary: boolean
  /** The forecaster's explanations, such as a scope without usage. */
  readonly notes: ReadonlyArray<string>
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
    const lowerUsd = nullableNumberField(item, "lower_80")
    const upperUsd = nullableNumberField(item, "upper_80")
    if (day === undefined || expectedUsd === undefined || lowerUsd === undefined || upperUsd === undefined) return undefined
    points.push({ day: day.slice(0, 10), expectedUsd, lowerUsd, upperUsd })
  }

  const spentUsd = numberField(projection, "spent_usd")
  const projectedUsd = numberField(projection, "projected_usd")
  const lowerUsd = nullableNumberField(projection, "lower_80")
  const upperUsd = nullableNumberField(projection, "upper_80")
  if (spentUsd === undefined || projectedUsd === undefined || lowerUsd === undefined || upperUsd === undefined) return undefined

  const budgets: Array<BudgetOutlook> = []
  for (const item of listField(body, "budgets") ?? []) {
    const limitUsd = numberField(item, "limit_usd")
    const projectedFraction = numberField(item, "projected_fraction")
    const status = stringField(item, "status")
    if (limitUsd !== undefined && projectedFraction !== undefined && status !== undefined) budgets.push({ limitUsd, projectedFraction, status })
  }

  const fields: Fields = isFields(body) ? body : {}
  const notes = Array.isArray(fields.notes) ? fields.notes.filter((note): note is string => typeof note === "string") : []
  return {
    period: stringField(fields, "period") ?? "period",
    method: stringField(fields, "method") ?? "unknown",
    historyDays: numberField(fields, "history_days") ?? 0,
    preliminary: fields.preliminary === true,
    notes,
    points,
    projection: { spentUsd, projectedUsd, lowerUsd, upperUsd },
    budgets
  }
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`

/** Describes the forecast in one line under the spend chart. */
export const describeForecast = (result: PluginRouteResult<Forecast>): string => {
  if (result.kind === "not_enabled") return "Forecast not enabled: the forecaster plugin is not loaded."
  if (result.kind === "failed") return `Forecast unavailable: ${result.message}`

  const { period, projection, budgets } = result.value
  const interval =
    projection.lowerUsd === null || projection.upperUsd === null
      ? ""
      : ` (80% interval ${formatUsd(projection.lowerUsd)} to ${formatUsd(projection.upperUsd)})`
  const parts = [
    `Projected for this ${period}: ${formatUsd(projection.projectedUsd)}${interval}, ${formatUsd(projection.spentUsd)} spent so far.`,
    `Method: ${result.value.method}, fitted on ${plural(result.value.historyDays, "complete day")}.`
  ]
  for (const budget of budgets) {
    parts.push(`Budget ${formatUsd(budget.limitUsd)}: ${Math.round(budget.projectedFraction * 100)}% projected, ${budget.status.replace(/-/g, " ")}.`)
  }
  // The forecaster's notes explain a missing interval and a preliminary forecast.
  parts.push(...result.value.notes)
  return parts.join(" ")
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
