/**
 * Rolling-origin backtests of the forecasting methods against naive
 * baselines, on generated daily series with a known trend, weekly season
 * and noise (seeded, so every run gets the same numbers), and on a series
 * replayed from a filled usage table. The figures are printed; the asserts
 * check only the comparisons the methods are built to win.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import { makeSpendSeriesReader } from "../spendSeries.js"
import { parseSpendScope } from "../SpendScope.js"
import { layerTestUsageDatabase, makeUsageRecord, TestUsageDatabase } from "../testing/usageDatabase.js"
import type { FittedModel } from "./FittedModel.js"
import { fitSpendModel } from "./fitSpendModel.js"
import { fitHolt } from "./holt.js"
import { fitHoltWinters, SEASON_LENGTH } from "./holtWinters.js"
import { forecastStd, Z_80, Z_95 } from "./intervals.js"

const HORIZON = 14
const FIRST_ORIGIN = 28

// ============================================================================
// Seeded random numbers
// ============================================================================

/** mulberry32: a small 32-bit generator, good enough for test noise. */
const makeRandom = (seed: number) => {
  let state = seed >>> 0
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  // Box-Muller transform.
  const normal = (std: number): number => std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
  return { uniform, normal }
}

// ============================================================================
// Forecasters under test and baselines
// ============================================================================

type Forecast = (history: ReadonlyArray<number>, horizon: number) => ReadonlyArray<number>

const fromModel = (fit: (history: ReadonlyArray<number>) => FittedModel): Forecast => (history, horizon) =>
  fit(history).forecast(horizon).map((value) => Math.max(0, value))

const lastValue: Forecast = (history, horizon) => Array.from({ length: horizon }, () => history[history.length - 1]!)

const seasonalNaive: Forecast = (history, horizon) =>
  Array.from({ length: horizon }, (_, index) => history[history.length - SEASON_LENGTH + (index % SEASON_LENGTH)]!)

const historyMean: Forecast = (history, horizon) => {
  const mean = history.reduce((sum, value) => sum + value, 0) / history.length
  return Array.from({ length: horizon }, () => mean)
}

const methods: ReadonlyArray<{ readonly name: string; readonly forecast: Forecast; readonly fit?: (history: ReadonlyArray<number>) => FittedModel }> = [
  { name: "holt", forecast: fromModel(fitHolt), fit: fitHolt },
  { name: "holt-winters", forecast: fromModel(fitHoltWinters), fit: fitHoltWinters },
  { name: "automatic", forecast: fromModel(fitSpendModel), fit: fitSpendModel },
  { name: "last value", forecast: lastValue },
  { name: "seasonal naive", forecast: seasonalNaive },
  { name: "mean", forecast: historyMean }
]

interface Score {
  readonly mape: number
  readonly smape: number
  /** Share of actual values inside the per-day 80% and 95% intervals; undefined for baselines. */
  readonly coverage80: number | undefined
  readonly coverage95: number | undefined
}

/**
 * Forecasts HORIZON days from every origin from FIRST_ORIGIN on, and scores
 * all (origin, day) pairs: MAPE = mean |y − ŷ| / |y| and
 * sMAPE = mean 2·|y − ŷ| / (|y| + |ŷ|), both in percent.
 */
const backtest = (series: ReadonlyArray<number>, method: (typeof methods)[number]): Score => {
  let absolutePercent = 0
  let symmetricPercent = 0
  let inside80 = 0
  let inside95 = 0
  let count = 0

  for (let origin = FIRST_ORIGIN; origin + HORIZON <= series.length; origin++) {
    const history = series.slice(0, origin)
    const forecast = method.forecast(history, HORIZON)
    const model = method.fit?.(history)
    for (let h = 1; h <= HORIZON; h++) {
      const actual = series[origin + h - 1]!
      const predicted = forecast[h - 1]!
      const error = Math.abs(actual - predicted)
      absolutePercent += error / Math.abs(actual)
      symmetricPercent += (2 * error) / (Math.abs(actual) + Math.abs(predicted))
      const std = model === undefined ? undefined : forecastStd(model, h)
      if (std !== undefined) {
        if (error <= Z_80 * std) inside80++
        if (error <= Z_95 * std) inside95++
      }
      count++
    }
  }

  return {
    mape: (100 * absolutePercent) / count,
    smape: (100 * symmetricPercent) / count,
    coverage80: method.fit === undefined ? undefined : inside80 / count,
    coverage95: method.fit === undefined ? undefined : inside95 / count
  }
}

const scoreAll = (label: string, series: ReadonlyArray<number>): ReadonlyMap<string, Score> => {
  const scores = new Map(methods.map((method) => [method.name, backtest(series, method)] as const))
  const percent = (value: number | undefined) => (value === undefined ? "     -" : `${(100 * value).toFixed(1).padStart(5)}%`)
  const lines = [...scores].map(
    ([name, score]) =>
      `  ${name.padEnd(15)} MAPE ${score.mape.toFixed(2).padStart(6)}%  sMAPE ${score.smape.toFixed(2).padStart(6)}%` +
      `  80% cover ${percent(score.coverage80)}  95% cover ${percent(score.coverage95)}`
  )
  console.log(`Backtest "${label}": ${series.length} days, origins ${FIRST_ORIGIN}..${series.length - HORIZON}, horizon ${HORIZON} days\n${lines.join("\n")}`)
  return scores
}

const mapeOf = (scores: ReadonlyMap<string, Score>, name: string): number => scores.get(name)!.mape

// ============================================================================
// Generated series
// ============================================================================

// A weekly pattern that sums to 0: busy weekdays, quiet weekends.
const WEEKLY_PATTERN = [10, 12, 8, 9, 5, -20, -24]

const trendSeries = (() => {
  const random = makeRandom(7)
  return Array.from({ length: 84 }, (_, t) => 20 + 0.8 * t + random.normal(2))
})()

const seasonalSeries = (() => {
  const random = makeRandom(11)
  return Array.from({ length: 84 }, (_, t) => 50 + 0.3 * t + WEEKLY_PATTERN[t % 7]! + random.normal(2))
})()

describe("backtest on generated series", () => {
  it("Holt beats the last value on a trend", () => {
    const scores = scoreAll("trend 20 + 0.8·t, noise σ 2", trendSeries)

    expect(mapeOf(scores, "holt")).toBeLessThan(mapeOf(scores, "last value"))
    expect(mapeOf(scores, "holt")).toBeLessThan(mapeOf(scores, "mean"))
    expect(mapeOf(scores, "automatic")).toBeLessThan(mapeOf(scores, "last value"))
  })

  it("Holt-Winters beats non-seasonal baselines on a weekly season", () => {
    const scores = scoreAll("weekly 50 + 0.3·t + season, noise σ 2", seasonalSeries)

    expect(mapeOf(scores, "holt-winters")).toBeLessThan(mapeOf(scores, "last value"))
    expect(mapeOf(scores, "holt-winters")).toBeLessThan(mapeOf(scores, "mean"))
    expect(mapeOf(scores, "holt-winters")).toBeLessThan(mapeOf(scores, "holt"))
    expect(mapeOf(scores, "automatic")).toBe(mapeOf(scores, "holt-winters"))
  })
})

// ============================================================================
// A series replayed from the usage table
// ============================================================================

// Ten weeks of requests ending the day before NOW: weekdays grow from 40 requests by one a week
// day, weekends stay at 12; each request costs between 1 and 5 cents.
const NOW = Date.parse("2025-06-02T09:00:00.000Z")
const DAY_MS = 86_400_000
const REPLAY_DAYS = 70
const firstDayMs = NOW - (NOW % DAY_MS) - REPLAY_DAYS * DAY_MS

const replayed = (() => {
  const random = makeRandom(23)
  const records = []
  const dailyCost: Array<number> = []
  for (let day = 0; day < REPLAY_DAYS; day++) {
    const dayMs = firstDayMs + day * DAY_MS
    const weekday = new Date(dayMs).getUTCDay()
    const weekend = weekday === 0 || weekday === 6
    const requests = weekend ? 12 : 40 + day
    let total = 0
    for (let index = 0; index < requests; index++) {
      // Whole hundredths of a cent, so the database sums are exact in PostgreSQL and close in SQLite.
      const costUsd = Math.round(100 + random.uniform() * 400) / 10_000
      total += costUsd
      records.push(
        makeUsageRecord({
          createdAt: new Date(dayMs + Math.floor(random.uniform() * DAY_MS)),
          keyId: "key_replay",
          costUsd
        })
      )
    }
    dailyCost.push(total)
  }
  return { records, dailyCost }
})()

layer(layerTestUsageDatabase("sqlite"))("backtest on a replayed usage table", (it) => {
  it.effect("Holt-Winters beats the naive baselines", () =>
    Effect.gen(function* () {
      const database = yield* TestUsageDatabase
      const reader = yield* makeSpendSeriesReader
      yield* database.insert(replayed.records)

      const days = yield* reader.dailySpend(Either.getOrThrow(parseSpendScope("key:key_replay")), firstDayMs, NOW - (NOW % DAY_MS))
      const series = days.map((day) => day.costUsd)

      expect(days).toHaveLength(REPLAY_DAYS)
      for (let day = 0; day < REPLAY_DAYS; day++) expect(series[day]).toBeCloseTo(replayed.dailyCost[day]!, 9)
      const scores = scoreAll(`usage table, ${replayed.records.length} requests`, series)
      expect(mapeOf(scores, "holt-winters")).toBeLessThan(mapeOf(scores, "last value"))
      expect(mapeOf(scores, "holt-winters")).toBeLessThan(mapeOf(scores, "mean"))
      expect(mapeOf(scores, "automatic")).toBe(mapeOf(scores, "holt-winters"))
    })
  )
})
