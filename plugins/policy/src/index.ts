/**
 * The policy plugin: virtual API keys, USD budgets and rate limits.
 *
 * List it after `@fluxen/analyzer` under `plugins:`. The analyzer's
 * `beforeRequest` supplies the prompt token estimate that admission prices,
 * and its `afterResponse` records the cost that settles the budgets.
 *
 * Keys, teams and the audit log live in the gateway's database (tables
 * `fluxen_policy_*`). Budget and rate limit counters live in memory for a
 * single instance, or in Redis (`redis.url`) to be shared by instances.
 */
import { makePricingTable, ModelPrice } from "@fluxen/analyzer"
import table from "@fluxen/config/pricing.json" with { type: "json" }
import { definePlugin, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Runtime, Schema } from "effect"
import { makeAdminRoutes } from "./AdminApi.js"
import { makeApplicableLimits } from "./ApplicableLimits.js"
import { makeBudgetAlerts } from "./BudgetAlerts.js"
import { makeBudgetLedger } from "./BudgetLedger.js"
import { configTeams } from "./ConfigTeams.js"
import { makeKeyResolver, staticKeyId, type ResolvedKey } from "./KeyResolver.js"
import { makeKeyStore } from "./KeyStore.js"
import type { LimitStore } from "./LimitStore.js"
import { makeThrottledWarning } from "./LogLimits.js"
import { makeMemoryLimitStore } from "./MemoryLimitStore.js"
import { runPolicyMigrations } from "./migrations.js"
import { policyMetrics } from "./policyMetrics.js"
import { makePeriodClock } from "./Periods.js"
import { PolicyConfig } from "./PolicyConfig.js"
import { makePolicyHooks } from "./PolicyHooks.js"
import { makeRedisLimitStore, type RedisLimitStore } from "./RedisLimitStore.js"
import { makeSpendHistory } from "./SpendHistory.js"

export { ADMIN_PREFIX } from "./AdminApi.js"
export { ApiBudget, ApiRateLimits, CreateKeyBody, CreateTeamBody, UpdateKeyBody, UpdateTeamBody } from "./AdminBodies.js"
export { generateKey, hashKey, keyFromHeaders } from "./ApiKey.js"
export { webhookPayload, type ThresholdEvent } from "./BudgetAlerts.js"
export { BudgetLimit, LimitScope, RateLimits } from "./Limits.js"
export { LimitStoreError, type LimitStore } from "./LimitStore.js"
export { makeMemoryLimitStore } from "./MemoryLimitStore.js"
export { policyMigrations, policyMigrationsTable, runPolicyMigrations } from "./migrations.js"
export { BudgetPeriod } from "./Periods.js"
export { PolicyConfig, RedisConfig, ScopedBudget, ScopedRateLimit, StaticKey } from "./PolicyConfig.js"
export { TICKET_ATTRIBUTE, type PolicyStats } from "./PolicyHooks.js"
export { makeRedisLimitStore, type RedisLimitStoreOptions } from "./RedisLimitStore.js"

const PricingFile = Schema.Struct({
  version: Schema.String,
  models: Schema.Record({ key: Schema.String, value: ModelPrice })
})

const REDIS_WARNING_INTERVAL_MS = 10_000

export default definePlugin({
  name: "@fluxen/policy",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: PolicyConfig,
  layer: (config) =>
    Layer.scoped(
      Plugin,
      Effect.gen(function* () {
        const host = yield* PluginHost
        const runtime = yield* Effect.runtime<never>()

        yield* runPolicyMigrations.pipe(
          Effect.catchAllDefect((defect) => Effect.fail(defect)),
          Effect.tapError((error) => Effect.logError("Migrating the policy tables failed.").pipe(Effect.annotateLogs({ error: String(error) })))
        )
        const keyStore = yield* makeKeyStore
        const history = yield* makeSpendHistory
        const pricingFile = yield* Schema.decodeUnknown(PricingFile)(table)
        const pricing = makePricingTable({ ...pricingFile, currency: "USD", unit: "per 1M tokens" }, config.pricing.overrides)

        let store: LimitStore
        let storeStatus: () => string
        let redisStore: RedisLimitStore | undefined
        if (config.redis === undefined) {
          store = yield* makeMemoryLimitStore
          // The memory store has no connection, so its status is "not used" rather than a Redis client state.
          storeStatus = () => "not used"
        } else {
          const warnConnection = makeThrottledWarning("The Redis connection of the policy plugin failed.", REDIS_WARNING_INTERVAL_MS)
          // The store's circuit breaker logs its changes of state with the annotations in place here.
          const redis = yield* makeRedisLimitStore({
            url: config.redis.url,
            keyPrefix: config.redis.keyPrefix,
            connectTimeoutMs: config.redis.connectTimeoutMs,
            commandTimeoutMs: config.redis.commandTimeoutMs,
            reservationTtlMs: config.redis.reservationTtlSeconds * 1_000,
            onConnectionError: (error) =>
              Runtime.runFork(runtime)(warnConnection({ plugin: host.instanceName, error: error.message }))
          }).pipe(Effect.annotateLogs({ plugin: host.instanceName }))
          store = redis
          storeStatus = redis.status
          redisStore = redis
        }

        const resolver = makeKeyResolver({
          pluginName: host.instanceName,
          store: keyStore,
          staticKeys: config.keys,
          keyCacheTtlMs: config.keyCacheTtlSeconds * 1_000
        })
        const limits = makeApplicableLimits(config)
        const ledger = makeBudgetLedger({ store, history, clock: makePeriodClock() })
        const alerts = yield* makeBudgetAlerts({ webhookUrl: config.webhookUrl, pluginName: host.instanceName })
        const policy = makePolicyHooks({
          pluginName: host.instanceName,
          config,
          resolver,
          limits,
          store,
          ledger,
          pricing,
          alerts,
          storeFailMode: config.redis?.failMode ?? "open"
        })

        const staticKeys: Array<ResolvedKey> = config.keys.map((key) => ({
          id: staticKeyId(key.name),
          name: key.name,
          team: key.team ?? null,
          allowedModels: key.models ?? null,
          budgets: key.budgets,
          limits: key.limits,
          metadata: key.metadata,
          expiresAtMs: null,
          revoked: false,
          teamBudgets: [],
          teamLimits: {}
        }))
        const routes = makeAdminRoutes({
          pluginName: host.instanceName,
          masterKey: config.masterKey,
          store: keyStore,
          resolver,
          limits,
          ledger,
          staticKeys,
          configTeams: configTeams(config),
          stats: policy.stats,
          storeKind: config.redis === undefined ? "memory" : "redis",
          storeStatus
        })

        yield* Effect.logInfo("Policy started").pipe(
          Effect.annotateLogs({
            plugin: host.instanceName,
            "policy.store": config.redis === undefined ? "memory" : "redis",
            "policy.redis_status": storeStatus(),
            "policy.static_keys": config.keys.length,
            "policy.require_key": config.requireKey,
            "policy.admin_api": config.masterKey !== undefined
          })
        )
        return { hooks: policy.hooks, routes, metrics: () => policyMetrics(policy.stats, redisStore) }
      })
    )
})
