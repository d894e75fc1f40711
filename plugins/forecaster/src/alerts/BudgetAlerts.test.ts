import { expect, layer } from "@effect/vitest"
import { describe, it } from "vitest"
import type { UsageRecord } from "@fluxen/runtime"
import { Context, Effect, Layer, Logger } from "effect"
import { makeForecaster } from "../Forecaster.js"
import type { ForecastBudget } from "../ForecasterConfig.js"
import { makeSpendSeriesReader } from "../spendSeries.js"
import { fetchTransport } from "../testing/fetchTransport.js"
import { layerTestUsageDatabase, makeUsageRecord, testDialects, TestUsageDatabase } from "../testing/usageDatabase.js"
import { startWebhookServer, type WebhookServer } from "../testing/webhookServer.js"
import { makeAlertLog } from "./AlertLog.js"
import { formatUsd, makeBudgetAlerts, type AlertBasis } from "./BudgetAlerts.js"

class Webhook extends Context.Tag("test/Webhook")<Webhook, WebhookServer>() {}

const layerWebhook = Layer.scoped(
  Webhook,
  Effect.acquireRelease(Effect.promise(startWebhookServer), (server) => Effect.promise(server.close))
)

const NOW = Date.parse("2025-03-10T12:00:00.000Z")
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

// Nine days of 8 USD (two requests of 4) from March 1, then 7 USD on the morning of March 10.
// Holt's method forecasts 8 a day with no error, so March 10 ends at 7 + 0.5 · 8 = 11 USD.
const teamHistory = [
  ...Array.from({ length: 9 }, (_, day) => [
    makeUsageRecord({ createdAt: new Date(Date.parse("2025-03-01T10:00:00Z") + day * DAY_MS), team: "search", costUsd: 4 }),
    makeUsageRecord({ createdAt: new Date(Date.parse("2025-03-01T14:00:00Z") + day * DAY_MS), team: "search", costUsd: 4 })
  ]).flat(),
  makeUsageRecord({ createdAt: new Date("2025-03-10T09:00:00Z"), team: "search", costUsd: 7 })
]

const teamBudget: ForecastBudget = { scope: "team:search", period: "day", limitUsd: 10, alertAt: [1, 0.5] }
const globalBudget: ForecastBudget = { scope: "global", period: "month", limitUsd: 1_000 }

const makeAlerts = (
  budgets: ReadonlyArray<ForecastBudget>,
  webhookUrl: string | undefined,
  alertOn: AlertBasis = "expected",
  minHistoryDays = 7
) =>
  Effect.gen(function* () {
    const reader = yield* makeSpendSeriesReader
    const alertLog = yield* makeAlertLog
    return makeBudgetAlerts({
      pluginName: "forecaster-test",
      budgets,
      defaultAlertAt: [1],
      alertOn,
      minHistoryDays,
      webhookUrl,
      forecaster: makeForecaster({ reader, historyDays: 56 }),
      alertLog,
      transport: fetchTransport
    })
  })

// Clears the tables and the webhook's record, then inserts the records.
const reset = (records: ReadonlyArray<UsageRecord>) =>
  Effect.gen(function* () {
    const database = yield* TestUsageDatabase
    const webhook = yield* Webhook
    yield* database.clear
    webhook.received.length = 0
    yield* database.insert(records)
  })

for (const dialect of testDialects) {
  layer(Layer.merge(layerTestUsageDatabase(dialect), layerWebhook))(`budget alerts on ${dialect}`, (it) => {
    it.effect("alert once per period and threshold", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset(teamHistory)
        const alerts = yield* makeAlerts([teamBudget, globalBudget], webhook.url)

        const first = yield* alerts.check(NOW)
        const again = yield* alerts.check(NOW + HOUR_MS)

        expect(first.map((alert) => [alert.budget.scope, alert.threshold])).toEqual([
          ["team:search", 0.5],
          ["team:search", 1]
        ])
        expect(again).toEqual([])
        expect(webhook.received).toHaveLength(2)
        expect(webhook.received[0]).toEqual({
          type: "fluxen.forecast.budget_alert",
          budget: { scope: "team:search", period: "day", limit_usd: 10 },
          threshold: 0.5,
          alert_on: "expected",
          compared: "expected",
          compared_usd: 11,
          period_start: "2025-03-10",
          period_end: "2025-03-10",
          spent_usd: 7,
          projected_usd: 11,
          interval_80: { lower: 11, upper: 11 },
          interval_95: { lower: 11, upper: 11 },
          status: "projected-to-exceed",
          exhaustion_date: "2025-03-10",
          method: "holt",
          history_days: 9,
          preliminary: false,
          checked_at: "2025-03-10T12:00:00.000Z"
        })
        expect(webhook.received[1]).toMatchObject({ threshold: 1, projected_usd: 11 })
      })
    )

    it.effect("alert again in the next period", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset([...teamHistory, makeUsageRecord({ createdAt: new Date("2025-03-11T09:00:00Z"), team: "search", costUsd: 9 })])
        const alerts = yield* makeAlerts([teamBudget], webhook.url)

        yield* alerts.check(NOW)
        const nextDay = yield* alerts.check(NOW + DAY_MS)
        const nextDayAgain = yield* alerts.check(NOW + DAY_MS + HOUR_MS)

        expect(nextDay.map((alert) => alert.threshold)).toEqual([0.5, 1])
        expect(nextDayAgain).toEqual([])
        expect(webhook.received.map((body) => (body as { period_start: string }).period_start)).toEqual([
          "2025-03-10",
          "2025-03-10",
          "2025-03-11",
          "2025-03-11"
        ])
      })
    )

    it.effect("retry a failed webhook at the next check", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset(teamHistory)
        const alerts = yield* makeAlerts([{ ...teamBudget, alertAt: [1] }], webhook.url)
        webhook.failNext(500)

        const failed = yield* alerts.check(NOW)
        const retried = yield* alerts.check(NOW + HOUR_MS)
        const afterDelivery = yield* alerts.check(NOW + 2 * HOUR_MS)

        expect(failed).toEqual([])
        expect(retried.map((alert) => alert.threshold)).toEqual([1])
        expect(afterDelivery).toEqual([])
        expect(webhook.received).toHaveLength(2)
      })
    )

    it.effect("alert once across two instances", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset(teamHistory)
        const first = yield* makeAlerts([teamBudget], webhook.url)
        const second = yield* makeAlerts([teamBudget], webhook.url)

        const [a, b] = yield* Effect.all([first.check(NOW), second.check(NOW)], { concurrency: 2 })

        expect(a.length + b.length).toBe(2)
        expect(webhook.received).toHaveLength(2)
      })
    )

    it.effect("log a warning without a webhook", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset(teamHistory)
        const alerts = yield* makeAlerts([{ ...teamBudget, alertAt: [1] }], undefined)
        const messages: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ logLevel, message }) => {
            messages.push(`${logLevel.label}: ${String(Array.isArray(message) ? message[0] : message)}`)
          })
        )

        const sent = yield* alerts.check(NOW).pipe(Effect.provide(capture))

        expect(sent).toHaveLength(1)
        expect(webhook.received).toEqual([])
        expect(messages).toEqual([
          "WARN: The day spend of team:search is projected to reach 11.00 USD by 2025-03-10, 110% of its 10.00 USD budget (alert threshold 1, holt forecast on 9 complete days)."
        ])
      })
    )

    it.effect("compare the upper bound when asked", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        // Six days of 8, 12, 8, 12, ...: the mean method forecasts 10 a day with a spread of a few USD.
        const noisy = Array.from({ length: 6 }, (_, day) =>
          makeUsageRecord({ createdAt: new Date(Date.parse("2025-03-04T10:00:00Z") + day * DAY_MS), team: "search", costUsd: day % 2 === 0 ? 8 : 12 })
        )
        yield* reset(noisy)
        const budget: ForecastBudget = { scope: "team:search", period: "day", limitUsd: 7, alertAt: [1] }
        const expected = yield* makeAlerts([budget], webhook.url, "expected", 3)
        const upper = yield* makeAlerts([budget], webhook.url, "upper95", 3)

        const byExpected = yield* expected.check(NOW)
        const byUpper = yield* upper.check(NOW)

        // Nothing recorded today: the expected spend is half a day of the mean, about 5 USD.
        expect(byExpected).toEqual([])
        expect(byUpper).toHaveLength(1)
        expect(byUpper[0]!.comparedUsd).toBeGreaterThan(7)
        expect(byUpper[0]!.comparedUsd).toBe(byUpper[0]!.forecast.period.projection.upper95)
      })
    )

    it.effect("alert on recorded spend only with short history", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        // Two days of 8 USD, then 7 USD this morning: the projection of 11 USD crosses the limit, the recorded 7 USD only half of it.
        yield* reset(teamHistory.filter((record) => record.createdAt >= new Date("2025-03-08T00:00:00Z")))
        const alerts = yield* makeAlerts([teamBudget], webhook.url)

        const sent = yield* alerts.check(NOW)

        expect(sent.map((alert) => alert.threshold)).toEqual([0.5])
        expect(webhook.received).toHaveLength(1)
        expect(webhook.received[0]).toMatchObject({
          alert_on: "expected",
          compared: "spent",
          compared_usd: 7,
          projected_usd: 11,
          method: "mean",
          history_days: 2,
          preliminary: true
        })
      })
    )

    it.effect("alert on a short projection when allowed", () =>
      Effect.gen(function* () {
        const webhook = yield* Webhook
        yield* reset(teamHistory.filter((record) => record.createdAt >= new Date("2025-03-08T00:00:00Z")))
        const alerts = yield* makeAlerts([teamBudget], webhook.url, "expected", 2)

        const sent = yield* alerts.check(NOW)

        expect(sent.map((alert) => alert.threshold)).toEqual([0.5, 1])
      })
    )

    it.effect("name the short history in the log", () =>
      Effect.gen(function* () {
        yield* reset(teamHistory.filter((record) => record.createdAt >= new Date("2025-03-09T00:00:00Z")))
        const alerts = yield* makeAlerts([{ ...teamBudget, alertAt: [0.5] }], undefined)
        const messages: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ message }) => {
            messages.push(String(Array.isArray(message) ? message[0] : message))
          })
        )

        yield* alerts.check(NOW).pipe(Effect.provide(capture))

        expect(messages).toEqual([
          "The day spend of team:search has reached 7.00 USD, 70% of its 10.00 USD budget (alert threshold 0.5). " +
            "Its projection does not alert, because the preliminary mean forecast rests on 1 complete day, fewer than 7."
        ])
      })
    )
  })
}

describe("formatUsd", () => {
  it.each([
    { usd: 0, text: "0.00" },
    { usd: 11, text: "11.00" },
    { usd: 1234.5, text: "1234.50" },
    { usd: 0.0006, text: "0.0006" },
    { usd: 0.000587123, text: "0.000587" },
    { usd: 0.25, text: "0.25" }
  ])("formats $usd as $text", ({ usd, text }) => {
    expect(formatUsd(usd)).toBe(text)
  })
})
