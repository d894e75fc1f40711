/**
 * The forecaster plugin: spend forecasts per scope and budget period,
 * alerts when a budget is projected to run out, and cheaper-model
 * recommendations, all read from the gateway's usage table. With
 * `shadow.enabled`, it also sends a sample of chat requests to cheaper
 * candidates and compares the outputs.
 *
 * It keeps its own tables (`fluxen_forecaster_*`) in the gateway's
 * database. List it after `@fluxen/analyzer` under `plugins:`, because
 * forecasts read the costs the analyzer records.
 */
import { SqlClient } from "@effect/sql"
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION, type PluginInstance } from "@fluxen/sdk"
import { Cause, Clock, Duration, Effect, Layer, Schedule } from "effect"
import { makeAdminAuth } from "./adminAuth.js"
import { makeAlertLog } from "./alerts/AlertLog.js"
import { makeBudgetAlerts } from "./alerts/BudgetAlerts.js"
import { makeForecaster } from "./Forecaster.js"
import { ForecasterConfig } from "./ForecasterConfig.js"
import { runForecasterMigrations } from "./migrations.js"
import { loadPricing } from "./pricing.js"
import { makeUsageProfiles } from "./recommend/usageProfiles.js"
import { makeRoutes } from "./routes.js"
import { makeShadowEvaluator } from "./shadow/ShadowEvaluator.js"
import { makeShadowStore } from "./shadow/ShadowStore.js"
import { makeSpendSeriesReader } from "./spendSeries.js"

export { makeAlertLog, type AlertKey, type AlertLog } from "./alerts/AlertLog.js"
export { budgetId, makeBudgetAlerts, webhookPayload, type BudgetAlert, type BudgetAlerts } from "./alerts/BudgetAlerts.js"
export { makeForecaster, type Forecaster, type ScopeForecast } from "./Forecaster.js"
export { ForecastBudget, ForecasterConfig, RecommendationsConfig, ShadowConfig } from "./ForecasterConfig.js"
export { fitSpendModel } from "./forecast/fitSpendModel.js"
export type { FittedModel, ForecastMethod } from "./forecast/FittedModel.js"
export { forecasterMigrations, forecasterMigrationsTable, runForecasterMigrations } from "./migrations.js"
export { BudgetPeriod, periodWindowAt, type PeriodWindow } from "./periods.js"
export { budgetOutlook, forecastPeriod, type BudgetOutlook, type PeriodForecast } from "./projectPeriod.js"
export { MODEL_FAMILIES, nextCheaperTier } from "./recommend/modelFamilies.js"
export { recommendModels, type Recommendation } from "./recommend/recommendModels.js"
export { FORECAST_BUDGETS_PATH, FORECAST_PATH, RECOMMENDATIONS_PATH } from "./routes.js"
export { compareOutputs } from "./shadow/compareOutputs.js"
export { SHADOW_HEADER } from "./shadow/ShadowEvaluator.js"
export { makeSpendSeriesReader, type DailySpend, type SpendSeriesReader } from "./spendSeries.js"
export { parseSpendScope, type SpendScope } from "./SpendScope.js"

const makePlugin = (config: ForecasterConfig) =>
  Effect.gen(function* () {
    const host = yield* PluginHost
    const transport = yield* HttpTransport

    yield* runForecasterMigrations.pipe(
      Effect.catchAllDefect((defect) => Effect.fail(defect)),
      Effect.tapError((error) => Effect.logError("Migrating the forecaster tables failed.", Cause.fail(error)))
    )
    const pricing = yield* loadPricing(config.pricing.overrides)

    const forecaster = makeForecaster({ reader: yield* makeSpendSeriesReader, historyDays: config.historyDays })
    const shadowStore = yield* makeShadowStore

    if (config.budgets.length > 0) {
      const alerts = makeBudgetAlerts({
        pluginName: host.instanceName,
        budgets: config.budgets,
        defaultAlertAt: config.alertAt,
        alertOn: config.alertOn,
        minHistoryDays: config.alertMinHistoryDays,
        webhookUrl: config.webhookUrl,
        forecaster,
        alertLog: yield* makeAlertLog,
        transport
      })
      const checkOnce = Clock.currentTimeMillis.pipe(
        Effect.flatMap(alerts.check),
        Effect.catchAllCause((cause) => Effect.logError("Checking the budget forecasts failed. The next check tries again.", cause))
      )
      // The first check runs at start, then one every `checkInterval`, until the plugin closes.
      yield* Effect.forkScoped(
        Effect.repeat(checkOnce, Schedule.spaced(Duration.millis(config.checkInterval))).pipe(
          Effect.annotateLogs({ plugin: host.instanceName })
        )
      )
    }

    const shadow = config.shadow?.enabled
      ? yield* makeShadowEvaluator({ pluginName: host.instanceName, config: config.shadow, transport, store: shadowStore })
      : undefined

    const routes = makeRoutes({
      pluginName: host.instanceName,
      authorize: makeAdminAuth(config.adminKey),
      forecaster,
      budgets: config.budgets,
      defaultAlertAt: config.alertAt,
      profiles: yield* makeUsageProfiles,
      shadowStore,
      pricing,
      recommendations: config.recommendations,
      configuredCandidates: config.shadow?.candidates ?? {}
    })

    if (config.adminKey === undefined) {
      yield* Effect.logWarning("The forecaster routes are open to every client, because no adminKey is configured.").pipe(
        Effect.annotateLogs({ plugin: host.instanceName })
      )
    }
    yield* Effect.logInfo("Forecaster started").pipe(
      Effect.annotateLogs({
        plugin: host.instanceName,
        "forecaster.budgets": config.budgets.length,
        "forecaster.check_interval_ms": config.checkInterval,
        "forecaster.shadow": shadow === undefined ? "off" : "on",
        "pricing.version": pricing.version
      })
    )

    const instance: PluginInstance = shadow === undefined ? { routes } : { routes, hooks: shadow.hooks }
    return instance
  })

/** The plugin's layer; the alert checks and shadow requests stop when its scope closes. */
export const forecasterLayer = (
  config: ForecasterConfig
): Layer.Layer<Plugin, unknown, PluginHost | HttpTransport | SqlClient.SqlClient> => Layer.scoped(Plugin, makePlugin(config))

export default definePlugin({
  name: "@fluxen/forecaster",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: ForecasterConfig,
  layer: forecasterLayer
})
