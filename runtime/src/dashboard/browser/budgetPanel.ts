/**
 * The budgets panel: the policy plugin's enforced budgets, read from each
 * active key's spend report, and the forecaster's alert budgets with their
 * projections. The fields read are those of plugins/policy/src/AdminApi.ts
 * and plugins/forecaster/src/routeEncoding.ts.
 */
import type { PluginRoutePaths } from "../DashboardData.js"
import { byId, element, showMessage } from "./dom.js"
import { formatUsd, noValue } from "./format.js"
import { fetchPluginRoute, listField, numberField, stringField, type PluginRouteResult } from "./pluginPanels.js"

/** One budget with its spend in the current period. */
export interface BudgetRow {
  /** The policy plugin enforces its budgets, the forecaster only alerts on its own. */
  readonly source: "policy" | "forecaster"
  readonly scope: string
  /** The team, key id or model; null for the global budget. */
  readonly name: string | null
  readonly period: string
  readonly limitUsd: number
  readonly spentUsd: number
  readonly reservedUsd: number
  /** The forecaster's projection of the period's spend; null for policy budgets. */
  readonly projection: BudgetProjection | null
}

export interface BudgetProjection {
  readonly projectedUsd: number
  /** `within-budget`, `projected-to-exceed` or `exceeded`. */
  readonly status: string
  readonly method: string
  readonly historyDays: number
  readonly preliminary: boolean
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
    const reservedUsd = numberField(budget, "reserved_usd") ?? 0
    return [{ source: "policy", scope, name: stringField(budget, "name") ?? null, period, limitUsd, spentUsd, reservedUsd, projection: null }]
  })
}

/**
 * Reads every policy budget that applies to an active key: the key list, then each
 * key's spend report. A team or global budget appears in the report of
 * every key it applies to, so rows are kept once per scope, name and period.
 */
const fetchPolicyBudgets = async (paths: PluginRoutePaths, headers: HeadersInit): Promise<PluginRouteResult<ReadonlyArray<BudgetRow>>> => {
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

/** Decodes a `GET /v1/fluxen/forecast/budgets` body, skipping items without the fields the page reads. */
export const readForecastBudgets = (body: unknown): ReadonlyArray<BudgetRow> | undefined => {
  const budgets = listField(body, "data")
  if (budgets === undefined) return undefined
  return budgets.flatMap((budget): Array<BudgetRow> => {
    const scopeText = stringField(budget, "scope")
    const period = stringField(budget, "period")
    const limitUsd = numberField(budget, "limit_usd")
    const spentUsd = numberField(budget, "spent_usd")
    const projectedUsd = numberField(budget, "projected_usd")
    const status = stringField(budget, "status")
    if (scopeText === undefined || period === undefined || limitUsd === undefined || spentUsd === undefined) return []
    if (projectedUsd === undefined || status === undefined) return []

    // The forecaster writes scopes as `global` or `<kind>:<name>`.
    const separator = scopeText.indexOf(":")
    const scope = separator < 0 ? scopeText : scopeText.slice(0, separator)
    const name = separator < 0 ? null : scopeText.slice(separator + 1)
    const projection: BudgetProjection = {
      projectedUsd,
      status,
      method: stringField(budget, "method") ?? "unknown",
      historyDays: numberField(budget, "history_days") ?? 0,
      preliminary: budget.preliminary === true
    }
    return [{ source: "forecaster", scope, name, period, limitUsd, spentUsd, reservedUsd: 0, projection }]
  })
}

/**
 * Reads the policy plugin's budgets and the forecaster's, each when its
 * plugin is loaded. A failure of either shows instead of a partial table.
 */
export const fetchBudgets = async (paths: PluginRoutePaths, headers: HeadersInit): Promise<PluginRouteResult<ReadonlyArray<BudgetRow>>> => {
  const forecasterBudgets: Promise<PluginRouteResult<ReadonlyArray<BudgetRow>>> =
    paths.forecastBudgets === null ? Promise.resolve({ kind: "not_enabled" }) : fetchPluginRoute(paths.forecastBudgets, headers, readForecastBudgets)
  const results = await Promise.all([fetchPolicyBudgets(paths, headers), forecasterBudgets])

  const rows: Array<BudgetRow> = []
  for (const result of results) {
    if (result.kind === "failed") return result
    if (result.kind === "ok") rows.push(...result.value)
  }
  if (results.every((result) => result.kind === "not_enabled")) return { kind: "not_enabled" }
  return { kind: "ok", value: rows }
}

const describeProjection = (projection: BudgetProjection | null): string => {
  if (projection === null) return noValue
  const days = `${projection.historyDays} ${projection.historyDays === 1 ? "day" : "days"}`
  const preliminary = projection.preliminary ? ", preliminary" : ""
  return `${formatUsd(projection.projectedUsd)}, ${projection.status.replace(/-/g, " ")} (${projection.method} on ${days}${preliminary})`
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
    element("td", { text: budget.source === "policy" ? "policy" : "forecast alert" }),
    element("td", { text: budget.period }),
    element("td", { text: `${formatUsd(budget.spentUsd)} of ${formatUsd(budget.limitUsd)}` }),
    element("td", { text: `${Math.round(used * 100)}%` }),
    element("td", {}, [element("div", { className: meterClass }, [bar])]),
    element("td", { text: describeProjection(budget.projection) })
  ])
}

/** Shows the budgets with their spend in the current period. */
export const renderBudgets = (containerId: string, result: PluginRouteResult<ReadonlyArray<BudgetRow>>): void => {
  if (result.kind === "not_enabled") return showMessage(containerId, "Not enabled: neither the policy plugin nor the forecaster plugin is loaded.")
  if (result.kind === "failed") return showMessage(containerId, result.message)
  if (result.value.length === 0) return showMessage(containerId, "No budgets: no key has a policy budget and the forecaster has none configured.")

  const header = element("tr", {}, ["Budget", "Kind", "Period", "Spent", "Used", "", "Projected"].map((text) => element("th", { text })))
  byId(containerId).replaceChildren(element("table", {}, [element("thead", {}, [header]), element("tbody", {}, result.value.map(renderBudgetRow))]))
}
