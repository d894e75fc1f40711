/** The total tiles and the top lists. */
import type { DashboardData, RankedGroup } from "../DashboardData.js"
import type { Percentiles } from "../percentiles.js"
import { byId, element, setText } from "./dom.js"
import { formatCompact, formatCount, formatMs, formatPercent, formatUsd, noValue, ratio } from "./format.js"

const formatPercentiles = (percentiles: Percentiles | null): string =>
  percentiles === null ? noValue : `${formatMs(percentiles.p50)} / ${formatMs(percentiles.p95)} / ${formatMs(percentiles.p99)}`

/**
 * Describes the error rate, and how many of its errors were refusals by policy (keys, model
 * permissions, rate limits or budgets) rather than failures of the gateway or an upstream.
 */
export const describeErrorRate = (errors: number, refused: number): string => {
  const base = "errors per request, cancellations excluded"
  if (refused === 0) return base
  const share = `${formatCount(refused)} of ${formatCount(errors)} ${errors === 1 ? "error" : "errors"}`
  return `${base}. ${share} ${refused === 1 ? "was a refusal" : "were refusals"} by keys, budgets or rate limits`
}

/** Fills the tiles with the totals of the range. */
export const renderTiles = (data: DashboardData): void => {
  const totals = data.totals
  setText("total-spend", formatUsd(totals.costUsd))
  setText(
    "total-spend-detail",
    totals.unknownCostRequests === 0
      ? `${data.days.length} days`
      : `plus ${formatCount(totals.unknownCostRequests)} ${totals.unknownCostRequests === 1 ? "request" : "requests"} without a price`
  )

  setText("total-requests", formatCount(totals.requests))
  setText("total-requests-detail", `${formatCount(totals.errors)} ${totals.errors === 1 ? "error" : "errors"}`)

  const tokens = totals.promptTokens + totals.completionTokens
  setText("total-tokens", formatCompact(tokens))
  setText(
    "total-tokens-detail",
    `${formatCount(totals.promptTokens)} prompt, ${formatCount(totals.completionTokens)} completion, ${formatCount(totals.cachedInputTokens)} cached`
  )

  setText("error-rate", formatPercent(ratio(totals.errors, totals.requests)))
  setText("error-rate-detail", describeErrorRate(totals.errors, totals.refused))

  setText("cache-hit-rate", formatPercent(ratio(totals.cacheHits, totals.requests)))
  setText("cache-hit-rate-detail", `${formatCount(totals.cacheHits)} hits`)

  setText("cost-saved", formatUsd(totals.costSavedUsd))

  const latency = data.latency
  const sample = latency.truncated
    ? `newest ${formatCount(latency.requests)} successful requests`
    : `${formatCount(latency.requests)} successful requests`
  setText("latency-total", formatPercentiles(latency.totalMs))
  setText("latency-total-detail", sample)
  setText("latency-first-byte", formatPercentiles(latency.firstByteMs))
  setText("latency-first-byte-detail", "time to the first response byte")
}

/**
 * Formats a group's spend. Requests without a price add nothing to `costUsd`,
 * so a model with no price reads "unknown" rather than $0.00.
 */
const formatSpend = (row: RankedGroup): string => {
  if (row.unknownCostRequests === 0) return formatUsd(row.costUsd)
  const unpriced = `${formatCount(row.unknownCostRequests)} unpriced`
  return row.costUsd === 0 ? `unknown (${unpriced})` : `${formatUsd(row.costUsd)} + unknown (${unpriced})`
}

/** Fills one top-list table: name, spend, requests, tokens and errors per row. */
export const renderTopTable = (tableId: string, nameHeader: string, rows: ReadonlyArray<RankedGroup>): void => {
  const table = byId(tableId)
  const header = element("tr", {}, [nameHeader, "Spend", "Requests", "Tokens", "Errors"].map((text) => element("th", { text })))
  if (rows.length === 0) {
    table.replaceChildren(element("tbody", {}, [element("tr", {}, [element("td", { className: "muted", text: "No requests in the range." })])]))
    return
  }
  const body = rows.map((row) =>
    element("tr", {}, [
      element("td", { text: row.name, title: row.name }),
      element("td", { text: formatSpend(row) }),
      element("td", { text: formatCount(row.requests) }),
      element("td", { text: formatCompact(row.tokens), title: formatCount(row.tokens) }),
      element("td", { text: formatCount(row.errors) })
    ])
  )
  table.replaceChildren(element("thead", {}, [header]), element("tbody", {}, body))
}
