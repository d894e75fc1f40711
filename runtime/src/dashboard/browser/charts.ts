/**
 * The dashboard's charts, drawn by uPlot. The page loads uPlot's browser
 * build as a classic script before this module runs, so the constructor is
 * read from the global `uPlot`. The import below brings in its types only.
 */
import type uPlot from "uplot"
import type { DashboardData } from "../DashboardData.js"
import { byId } from "./dom.js"
import { formatCompact, formatMs, formatPercent, formatUsd, noValue, ratio } from "./format.js"
import type { ForecastPoint } from "./pluginPanels.js"

type UPlotConstructor = typeof uPlot
type Value = number | null

const chartHeight = 220

const colors = {
  blue: "#2f6fde",
  green: "#16a34a",
  amber: "#d97706",
  red: "#c4321c",
  violet: "#7c3aed",
  violetBand: "rgba(124, 58, 237, 0.14)"
}

const uPlotConstructor = (): UPlotConstructor => {
  const constructor = (globalThis as unknown as { uPlot?: UPlotConstructor }).uPlot
  if (constructor === undefined) throw new Error("uPlot did not load: /dashboard/assets/uPlot.iife.min.js is missing or failed.")
  return constructor
}

/** Seconds since the epoch of a UTC date `YYYY-MM-DD`, uPlot's unit on a time axis. */
const dayToSeconds = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 1000

const legendValue =
  (format: (value: number) => string) =>
  (_chart: uPlot, value: Value): string =>
    value === null ? noValue : format(value)

const axisValues =
  (format: (value: number) => string) =>
  (_chart: uPlot, splits: Array<number>): Array<string> =>
    splits.map(format)

/** Approximate width in CSS pixels of one character of an axis label, in uPlot's default 12 px font. */
const labelCharWidth = 7.5
/** Room beside an axis label for its tick and the gap to the chart. */
const axisMargin = 24

/**
 * Returns the width of a y axis that fits its longest label, so that labels
 * such as `$0.000500` are not cut at the edge of the chart.
 */
export const axisSize = (_chart: unknown, values: ReadonlyArray<string> | null): number => {
  let longest = 0
  for (const value of values ?? []) longest = Math.max(longest, value.length)
  return Math.max(40, Math.ceil(longest * labelCharWidth) + axisMargin)
}

const bars = (constructor: UPlotConstructor) => constructor.paths.bars!({ size: [0.6, 40] })

/** Half a day in seconds: the x axis extends this far past the first and last day, so their bars are drawn whole. */
const halfDaySeconds = 43_200

/**
 * Draws a chart into the element with the id, replacing what was there,
 * and keeps its width equal to the element's as the window resizes.
 */
const mountChart = (containerId: string, options: Omit<uPlot.Options, "width" | "height">, data: uPlot.AlignedData): uPlot => {
  const constructor = uPlotConstructor()
  const container = byId(containerId)
  container.replaceChildren()
  const chart = new constructor(
    {
      ...options,
      scales: { x: { time: true, range: (_chart, min, max) => [min - halfDaySeconds, max + halfDaySeconds] }, ...options.scales },
      width: container.clientWidth,
      height: chartHeight,
      // Days are UTC dates, so the axis shows them in UTC whatever the browser's time zone.
      tzDate: (seconds) => constructor.tzDate(new Date(seconds * 1000), "Etc/UTC")
    },
    data,
    container
  )
  let width = container.clientWidth
  new ResizeObserver(() => {
    if (container.clientWidth === width) return
    width = container.clientWidth
    chart.setSize({ width, height: chartHeight })
  }).observe(container)
  return chart
}

/** Draws daily spend as bars, with the forecast's expected spend and 80% interval when there is a forecast. */
export const drawSpendChart = (data: DashboardData, forecast: ReadonlyArray<ForecastPoint> | undefined): void => {
  const constructor = uPlotConstructor()
  const spendByDay = new Map(data.days.map((day) => [day.day, day.costUsd]))
  const forecastByDay = new Map((forecast ?? []).map((point) => [point.day, point]))
  const days = [...new Set([...spendByDay.keys(), ...forecastByDay.keys()])].sort()

  const series: Array<uPlot.Series> = [
    {},
    { label: "Spend", stroke: colors.blue, fill: "rgba(47, 111, 222, 0.55)", paths: bars(constructor), points: { show: false }, value: legendValue(formatUsd) }
  ]
  const columns: Array<Array<Value>> = [days.map((day) => spendByDay.get(day) ?? null)]
  const bands: Array<uPlot.Band> = []

  if (forecast !== undefined && forecast.length > 0) {
    series.push(
      { label: "Forecast", stroke: colors.violet, width: 2, dash: [6, 4], value: legendValue(formatUsd) },
      { label: "80% low", stroke: colors.violetBand, points: { show: false }, value: legendValue(formatUsd) },
      { label: "80% high", stroke: colors.violetBand, points: { show: false }, value: legendValue(formatUsd) }
    )
    columns.push(
      days.map((day) => forecastByDay.get(day)?.expectedUsd ?? null),
      days.map((day) => forecastByDay.get(day)?.lowerUsd ?? null),
      days.map((day) => forecastByDay.get(day)?.upperUsd ?? null)
    )
    // Series 4 is the upper edge and series 3 the lower one.
    bands.push({ series: [4, 3], fill: colors.violetBand })
  }

  mountChart(
    "chart-spend",
    {
      series,
      bands,
      axes: [{}, { values: axisValues(formatUsd), size: axisSize }],
      scales: { y: { range: (_chart, _min, max) => [0, max > 0 ? max * 1.1 : 1] } }
    },
    [days.map(dayToSeconds), ...columns]
  )
}

/** Draws prompt, completion and cached input tokens per day. */
export const drawTokensChart = (data: DashboardData): void => {
  mountChart(
    "chart-tokens",
    {
      series: [
        {},
        { label: "Prompt", stroke: colors.blue, width: 2, value: legendValue(formatCompact) },
        { label: "Completion", stroke: colors.green, width: 2, value: legendValue(formatCompact) },
        { label: "Cached input", stroke: colors.amber, width: 2, value: legendValue(formatCompact) }
      ],
      axes: [{}, { values: axisValues(formatCompact), size: axisSize }]
    },
    [
      data.days.map((day) => dayToSeconds(day.day)),
      data.days.map((day) => day.promptTokens),
      data.days.map((day) => day.completionTokens),
      data.days.map((day) => day.cachedInputTokens)
    ]
  )
}

/** Draws requests per day as bars and the error rate as a line on a percentage axis. */
export const drawRequestsChart = (data: DashboardData): void => {
  const constructor = uPlotConstructor()
  mountChart(
    "chart-requests",
    {
      series: [
        {},
        { label: "Requests", scale: "count", stroke: colors.blue, fill: "rgba(47, 111, 222, 0.35)", paths: bars(constructor), points: { show: false }, value: legendValue(formatCompact) },
        { label: "Error rate", scale: "rate", stroke: colors.red, width: 2, value: legendValue(formatPercent) }
      ],
      axes: [
        {},
        { scale: "count", values: axisValues(formatCompact), size: axisSize },
        { scale: "rate", side: 1, values: axisValues(formatPercent), grid: { show: false }, size: axisSize }
      ],
      scales: { count: { range: (_chart, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, rate: { range: [0, 1] } }
    },
    [
      data.days.map((day) => dayToSeconds(day.day)),
      data.days.map((day) => day.requests),
      data.days.map((day) => ratio(day.errors, day.requests))
    ]
  )
}

/** Draws the cache hit rate per day, and the upstream cost it saved as bars. */
export const drawCacheChart = (data: DashboardData): void => {
  const constructor = uPlotConstructor()
  mountChart(
    "chart-cache",
    {
      series: [
        {},
        { label: "Saved", scale: "usd", stroke: colors.amber, fill: "rgba(217, 119, 6, 0.35)", paths: bars(constructor), points: { show: false }, value: legendValue(formatUsd) },
        { label: "Hit rate", scale: "rate", stroke: colors.green, width: 2, value: legendValue(formatPercent) }
      ],
      axes: [
        {},
        { scale: "usd", values: axisValues(formatUsd), size: axisSize },
        { scale: "rate", side: 1, values: axisValues(formatPercent), grid: { show: false }, size: axisSize }
      ],
      scales: { usd: { range: (_chart, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, rate: { range: [0, 1] } }
    },
    [
      data.days.map((day) => dayToSeconds(day.day)),
      data.days.map((day) => day.costSavedUsd),
      data.days.map((day) => ratio(day.cacheHits, day.requests))
    ]
  )
}

/** Draws the daily p50, p95 and p99 of total latency; days without successful requests stay empty. */
export const drawLatencyChart = (data: DashboardData): void => {
  const byDay = new Map(data.latency.totalMsByDay.map((day) => [day.day, day]))
  const column = (pick: (day: { p50: number; p95: number; p99: number }) => number) =>
    data.days.map((day) => {
      const percentiles = byDay.get(day.day)
      return percentiles === undefined ? null : pick(percentiles)
    })
  mountChart(
    "chart-latency",
    {
      series: [
        {},
        { label: "p50", stroke: colors.blue, width: 2, value: legendValue(formatMs) },
        { label: "p95", stroke: colors.amber, width: 2, value: legendValue(formatMs) },
        { label: "p99", stroke: colors.red, width: 2, value: legendValue(formatMs) }
      ],
      axes: [{}, { values: axisValues(formatMs), size: axisSize }]
    },
    [data.days.map((day) => dayToSeconds(day.day)), column((day) => day.p50), column((day) => day.p95), column((day) => day.p99)]
  )
}
