import type { PluginRoute } from "@fluxen/sdk"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { UsageRecord } from "../usage/UsageRecord.js"
import type { UsageStore } from "../usage/UsageStore.js"
import type { UsageGroupBy, UsageTotal } from "../usage/usageTotals.js"
import { findPluginRoutePaths, readDashboardData, summarizeLatency } from "./DashboardData.js"
import { nearestRank, percentilesOf } from "./percentiles.js"

const total = (group: string, costUsd: number, requests: number): UsageTotal => ({
  group,
  requests,
  promptTokens: 10 * requests,
  completionTokens: 2 * requests,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  costUsd,
  unknownCostRequests: 0,
  errors: 0,
  refused: 0,
  cancelled: 0,
  estimatedUsageRequests: 0,
  cacheHits: 0,
  costSavedUsd: 0
})

const record = (createdAt: string, totalMs: number, status: UsageRecord["status"] = "ok", firstByteMs: number | null = null) =>
  ({ createdAt: new Date(createdAt), totalMs, status, firstByteMs }) as UsageRecord

const route = (method: PluginRoute["method"], path: string): PluginRoute => ({
  method,
  path,
  handle: () => Effect.succeed({ status: 200, body: null })
})

describe("nearestRank", () => {
  it("returns observed values by rank ceil(q × n)", () => {
    const sorted = [10, 20, 30, 40]
    expect(nearestRank(sorted, 0.5)).toBe(20)
    expect(nearestRank(sorted, 0.95)).toBe(40)
    expect(nearestRank(sorted, 0)).toBe(10)
    expect(nearestRank([], 0.5)).toBeUndefined()
  })

  it("sorts numerically without changing the input", () => {
    const values = [100, 9, 25]
    expect(percentilesOf(values)).toEqual({ p50: 25, p95: 100, p99: 100 })
    expect(values).toEqual([100, 9, 25])
    expect(percentilesOf([])).toBeNull()
  })
})

describe("summarizeLatency", () => {
  it("uses successful requests only", () => {
    const summary = summarizeLatency(
      [
        record("2026-03-01T23:30:00Z", 300, "ok", 30),
        record("2026-03-01T01:00:00Z", 100, "ok"),
        record("2026-03-02T00:30:00Z", 500, "ok", 50),
        record("2026-03-02T00:40:00Z", 9_000, "error"),
        record("2026-03-02T00:50:00Z", 8_000, "cancelled")
      ],
      false,
      []
    )
    expect(summary.requests).toBe(3)
    expect(summary.totalMs).toEqual({ p50: 300, p95: 500, p99: 500 })
    expect(summary.firstByteMs).toEqual({ p50: 30, p95: 50, p99: 50 })
  })

  it("takes daily percentiles from the store", () => {
    const summary = summarizeLatency([record("2026-03-02T00:30:00Z", 500)], true, [
      { day: "2026-03-01", requests: 40_000, p50: 100, p95: 300, p99: 900 }
    ])

    expect(summary.totalMsByDay).toEqual([{ day: "2026-03-01", p50: 100, p95: 300, p99: 900 }])
  })
})

describe("findPluginRoutePaths", () => {
  it("finds the forecaster's and policy plugin's GET routes", () => {
    const paths = findPluginRoutePaths([
      route("GET", "/v1/fluxen/forecast"),
      route("POST", "/v1/fluxen/recommendations"),
      route("GET", "/v1/fluxen/admin/keys"),
      route("GET", "/v1/fluxen/admin/keys/:id/spend")
    ])
    expect(paths).toEqual({
      forecast: "/v1/fluxen/forecast",
      forecastBudgets: null,
      recommendations: null,
      policyKeys: "/v1/fluxen/admin/keys",
      policyKeySpend: "/v1/fluxen/admin/keys/:id/spend"
    })
  })
})

describe("readDashboardData", () => {
  const totalsByGroup: Record<UsageGroupBy, ReadonlyArray<UsageTotal>> = {
    day: [total("2026-03-09", 1.5, 3), total("2026-03-10", 0.5, 1)],
    model: [total("small", 0.5, 3), total("large", 1.5, 1)],
    key: [total("(none)", 2, 4)],
    team: [],
    provider: [],
    requested_model: [],
    resolved_model: [],
    endpoint: [],
    status: []
  }
  const queries: Array<{ readonly from: Date; readonly to: Date }> = []
  const store: UsageStore["Type"] = {
    insertBatch: () => Effect.void,
    totals: (query) => {
      queries.push(query)
      return Effect.succeed(totalsByGroup[query.groupBy])
    },
    list: () => Effect.succeed([record("2026-03-10T08:00:00Z", 200)]),
    latencyByDay: () => Effect.succeed([{ day: "2026-03-09", requests: 3, p50: 150, p95: 400, p99: 400 }])
  }

  it("fills every day of the range and ranks groups by spend", async () => {
    const data = await Effect.runPromise(
      readDashboardData(store, { forecast: null, forecastBudgets: null, recommendations: null, policyKeys: null, policyKeySpend: null }, {
        now: new Date("2026-03-10T12:00:00Z"),
        days: 3,
        topCount: 1,
        latencyRecordLimit: 1
      })
    )
    expect(data.from).toBe("2026-03-08T00:00:00.000Z")
    expect(queries[0]!.to.toISOString()).toBe("2026-03-10T12:00:00.000Z")
    expect(data.days.map((day) => [day.day, day.costUsd, day.requests])).toEqual([
      ["2026-03-08", 0, 0],
      ["2026-03-09", 1.5, 3],
      ["2026-03-10", 0.5, 1]
    ])
    expect(data.totals.costUsd).toBe(2)
    expect(data.totals.requests).toBe(4)
    expect(data.topModels.map((model) => model.name)).toEqual(["large"])
    expect(data.topModels[0]!.tokens).toBe(12)
    expect(data.topTeams).toEqual([])
    // The one record read equals the limit, so the percentiles may miss older records.
    expect(data.latency.truncated).toBe(true)
    // The daily percentiles come from the store's query over the whole range, not from the records read.
    expect(data.latency.totalMsByDay.map((day) => day.day)).toEqual(["2026-03-09"])
  })
})
