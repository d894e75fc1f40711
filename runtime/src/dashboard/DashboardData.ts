/**
 * The numbers behind the dashboard, read from the usage store: daily
 * totals, the top models, keys and teams, and latency percentiles. The
 * JSON route `GET /v1/fluxen/dashboard-data` returns this shape, and the
 * page's script reads it.
 */
import type { PluginRoute } from "@fluxen/sdk"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { UsageRecord } from "../usage/UsageRecord.js"
import type { DayLatency } from "../usage/latencyByDay.js"
import type { UsageStore } from "../usage/UsageStore.js"
import type { UsageTotal } from "../usage/usageTotals.js"
import { percentilesOf, type Percentiles } from "./percentiles.js"

/** Sums over the requests of one day or of the whole range. */
export interface UsageSums {
  readonly requests: number
  readonly errors: number
  /** The part of `errors` that a plugin refused by policy, such as for a key, a model, a rate limit or a budget. */
  readonly refused: number
  readonly cacheHits: number
  readonly costUsd: number
  readonly unknownCostRequests: number
  readonly costSavedUsd: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteTokens: number
  readonly reasoningTokens: number
}

export interface DaySums extends UsageSums {
  /** The UTC date, `YYYY-MM-DD`. */
  readonly day: string
}

/** One row of a top list. */
export interface RankedGroup {
  readonly name: string
  readonly requests: number
  /** Sum of the known costs, which leaves out the `unknownCostRequests`. */
  readonly costUsd: number
  /** Requests whose cost is unknown, mostly for a model without a price. */
  readonly unknownCostRequests: number
  /** Prompt plus completion tokens. */
  readonly tokens: number
  readonly errors: number
}

export interface DayPercentiles extends Percentiles {
  readonly day: string
}

/** Latencies of successful requests, in milliseconds. */
export interface LatencySummary {
  /** Successful requests the percentiles were computed from. */
  readonly requests: number
  /** True when the range held more records than were read, so `totalMs` and `firstByteMs` cover only the newest ones. */
  readonly truncated: boolean
  readonly totalMs: Percentiles | null
  /** Over the requests with a first byte; errors before the first byte have none. */
  readonly firstByteMs: Percentiles | null
  /** Percentiles of `totalMs` per UTC day over every record of the range; days without successful requests are left out. */
  readonly totalMsByDay: ReadonlyArray<DayPercentiles>
}

/** Paths of the optional plugin routes the page reads, each null when no plugin serves it. */
export interface PluginRoutePaths {
  /** The forecaster's spend forecast. */
  readonly forecast: string | null
  /** The forecaster's configured budgets with their projections. */
  readonly forecastBudgets: string | null
  /** The forecaster's cheaper-model recommendations. */
  readonly recommendations: string | null
  /** The policy plugin's key list. */
  readonly policyKeys: string | null
  /** The policy plugin's spend report of one key, with `:id` in place of the key id. */
  readonly policyKeySpend: string | null
}

export interface DashboardData {
  readonly object: "fluxen.dashboard"
  /** Start of the first day of the range (UTC midnight), ISO 8601. */
  readonly from: string
  /** End of the range: the time the data was read, ISO 8601. */
  readonly to: string
  /** Every day of the range, oldest first, with zeros for days without requests. */
  readonly days: ReadonlyArray<DaySums>
  readonly totals: UsageSums
  readonly topModels: ReadonlyArray<RankedGroup>
  readonly topKeys: ReadonlyArray<RankedGroup>
  readonly topTeams: ReadonlyArray<RankedGroup>
  readonly latency: LatencySummary
  readonly pluginRoutes: PluginRoutePaths
}

export interface DashboardQuery {
  /** The end of the range. */
  readonly now: Date
  /** Days in the range, today (UTC) included. */
  readonly days: number
  /** Rows per top list. */
  readonly topCount: number
  /**
   * Most records read for the latency percentiles, newest first. Reading
   * every record of a busy month would load them all into memory.
   */
  readonly latencyRecordLimit: number
}

const dayMs = 86_400_000

// The routes of plugins/forecaster/src/routes.ts and plugins/policy/src/AdminApi.ts.
const optionalRoutes: Readonly<Record<keyof PluginRoutePaths, string>> = {
  forecast: "/v1/fluxen/forecast",
  forecastBudgets: "/v1/fluxen/forecast/budgets",
  recommendations: "/v1/fluxen/recommendations",
  policyKeys: "/v1/fluxen/admin/keys",
  policyKeySpend: "/v1/fluxen/admin/keys/:id/spend"
}

const emptySums: UsageSums = {
  requests: 0,
  errors: 0,
  refused: 0,
  cacheHits: 0,
  costUsd: 0,
  unknownCostRequests: 0,
  costSavedUsd: 0,
  promptTokens: 0,
  completionTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0
}

const sumsOf = (total: UsageTotal): UsageSums => ({
  requests: total.requests,
  errors: total.errors,
  refused: total.refused,
  cacheHits: total.cacheHits,
  costUsd: total.costUsd,
  unknownCostRequests: total.unknownCostRequests,
  costSavedUsd: total.costSavedUsd,
  promptTokens: total.promptTokens,
  completionTokens: total.completionTokens,
  cachedInputTokens: total.cachedInputTokens,
  cacheWriteTokens: total.cacheWriteTokens,
  reasoningTokens: total.reasoningTokens
})

const addSums = (a: UsageSums, b: UsageSums): UsageSums => ({
  requests: a.requests + b.requests,
  errors: a.errors + b.errors,
  refused: a.refused + b.refused,
  cacheHits: a.cacheHits + b.cacheHits,
  costUsd: a.costUsd + b.costUsd,
  unknownCostRequests: a.unknownCostRequests + b.unknownCostRequests,
  costSavedUsd: a.costSavedUsd + b.costSavedUsd,
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  reasoningTokens: a.reasoningTokens + b.reasoningTokens
})

const utcDay = (time: number): string => new Date(time).toISOString().slice(0, 10)

/** Lists every day of the range with its sums, zero where the store has no row. */
const fillDays = (firstDayStart: number, dayCount: number, totals: ReadonlyArray<UsageTotal>): Array<DaySums> => {
  const byDay = new Map(totals.map((total) => [total.group, sumsOf(total)]))
  const days: Array<DaySums> = []
  for (let index = 0; index < dayCount; index++) {
    const day = utcDay(firstDayStart + index * dayMs)
    days.push({ day, ...(byDay.get(day) ?? emptySums) })
  }
  return days
}

/** Orders by cost, then by requests, both descending, then by name. */
const compareBySpend = (a: UsageTotal, b: UsageTotal): number => {
  if (a.costUsd !== b.costUsd) return b.costUsd - a.costUsd
  if (a.requests !== b.requests) return b.requests - a.requests
  if (a.group === b.group) return 0
  return a.group < b.group ? -1 : 1
}

/** Orders groups by spend and keeps the first `count`. */
const rank = (totals: ReadonlyArray<UsageTotal>, count: number): Array<RankedGroup> =>
  [...totals]
    .sort(compareBySpend)
    .slice(0, count)
    .map((total) => ({
      name: total.group,
      requests: total.requests,
      costUsd: total.costUsd,
      unknownCostRequests: total.unknownCostRequests,
      tokens: total.promptTokens + total.completionTokens,
      errors: total.errors
    }))

/**
 * Computes the latency percentiles of the successful requests among
 * `records`, with the daily percentiles that the store computed over the
 * whole range.
 */
export const summarizeLatency = (
  records: ReadonlyArray<UsageRecord>,
  truncated: boolean,
  byDay: ReadonlyArray<DayLatency>
): LatencySummary => {
  const succeeded = records.filter((record) => record.status === "ok")
  const totalMsByDay = byDay.map((day): DayPercentiles => ({ day: day.day, p50: day.p50, p95: day.p95, p99: day.p99 }))

  return {
    requests: succeeded.length,
    truncated,
    totalMs: percentilesOf(succeeded.map((record) => record.totalMs)),
    firstByteMs: percentilesOf(succeeded.flatMap((record) => (record.firstByteMs === null ? [] : [record.firstByteMs]))),
    totalMsByDay
  }
}

/** Finds which of the optional routes the loaded plugins serve with GET. */
export const findPluginRoutePaths = (routes: ReadonlyArray<PluginRoute>): PluginRoutePaths => {
  const getPaths = new Set(routes.filter((route) => route.method === "GET").map((route) => route.path))
  const pathIfServed = (path: string): string | null => (getPaths.has(path) ? path : null)
  return {
    forecast: pathIfServed(optionalRoutes.forecast),
    recommendations: pathIfServed(optionalRoutes.recommendations),
    forecastBudgets: pathIfServed(optionalRoutes.forecastBudgets),
    policyKeys: pathIfServed(optionalRoutes.policyKeys),
    policyKeySpend: pathIfServed(optionalRoutes.policyKeySpend)
  }
}

/** Reads the dashboard's numbers for the `query.days` days up to `query.now`. */
export const readDashboardData = (
  store: UsageStore["Type"],
  pluginRoutes: PluginRoutePaths,
  query: DashboardQuery
): Effect.Effect<DashboardData, SqlError> =>
  Effect.gen(function* () {
    const to = query.now
    const todayStart = Math.floor(to.getTime() / dayMs) * dayMs
    const from = new Date(todayStart - (query.days - 1) * dayMs)
    const range = { from, to }

    const [byDay, byModel, byKey, byTeam, records, latencyByDay] = yield* Effect.all(
      [
        store.totals({ ...range, groupBy: "day" }),
        store.totals({ ...range, groupBy: "model" }),
        store.totals({ ...range, groupBy: "key" }),
        store.totals({ ...range, groupBy: "team" }),
        store.list({ ...range, limit: query.latencyRecordLimit }),
        store.latencyByDay(range)
      ],
      { concurrency: "unbounded" }
    )

    const days = fillDays(from.getTime(), query.days, byDay)
    return {
      object: "fluxen.dashboard",
      from: from.toISOString(),
      to: to.toISOString(),
      days,
      totals: days.reduce<UsageSums>(addSums, emptySums),
      topModels: rank(byModel, query.topCount),
      topKeys: rank(byKey, query.topCount),
      topTeams: rank(byTeam, query.topCount),
      latency: summarizeLatency(records, records.length >= query.latencyRecordLimit, latencyByDay),
      pluginRoutes
    }
  })
