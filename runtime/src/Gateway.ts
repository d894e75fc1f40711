/**
 * The composition of one running Fluxen, independent of the HTTP server:
 * providers and hook plugins loaded from the configuration, the model
 * router, the request pipeline and the control routes.
 */
import { SqlClient } from "@effect/sql"
import type { PluginRoute, ProviderAdapter } from "@fluxen/sdk"
import { Effect, Either, Option } from "effect"
import type { LoadedConfig } from "./config/loadConfig.js"
import { makeControlApp } from "./http/ControlApp.js"
import type { MetricsPlugin } from "./metrics/pluginMetrics.js"
import { RequestMetrics } from "./metrics/RequestMetrics.js"
import type { Exchange } from "./http/Exchange.js"
import type { EndpointSpec } from "./pipeline/endpoints.js"
import { InflightRequests, makeProxyHandler } from "./pipeline/ProxyHandler.js"
import { HookChain, type HookPlugin } from "./plugins/HookChain.js"
import type { ModuleImporter } from "./plugins/PluginLoader.js"
import { acquirePlugins, startPlugins, type RunningPlugin } from "./plugins/RunningPlugins.js"
import { ModelRouter } from "./routing/ModelRouter.js"
import type { UsageRecord } from "./usage/UsageRecord.js"
import { UsageStore } from "./usage/UsageStore.js"
import { UsageWriter } from "./usage/UsageWriter.js"

export interface Gateway {
  readonly proxy: (exchange: Exchange, spec: EndpointSpec) => void
  readonly controlApp: ReturnType<typeof makeControlApp>
  readonly inflight: InflightRequests
  readonly router: ModelRouter
  readonly hooks: HookChain
  /** The plugins the gateway uses, in load order. The gateway counts as one of their users until `releasePlugins`. */
  readonly plugins: ReadonlyArray<RunningPlugin>
  /** Marks the gateway as draining: `/readyz` turns 503 so load balancers stop sending. */
  readonly setReady: (ready: boolean) => void
}

/**
 * Builds a gateway from a configuration. When a reload replaces `previous`, each plugin whose
 * layer inputs equal those of its entry there keeps that instance, and the router takes over
 * the health of the deployments whose provider plugin was kept. The other plugins start in
 * child scopes of the current scope.
 */
export const makeGateway = (loaded: LoadedConfig, importer: ModuleImporter, previous?: Gateway) =>
  Effect.gen(function* () {
    const writer = yield* UsageWriter
    const store = yield* UsageStore
    const sql = yield* SqlClient.SqlClient
    const { config } = loaded
    const loadOptions = {
      importer,
      configSource: loaded.source,
      configDirectory: loaded.directory,
      models: Object.keys(config.models),
      providers: Object.keys(config.providers),
      converted: loaded.converted ?? []
    }

    const plugins = yield* startPlugins(config, previous?.plugins ?? [], loadOptions)
    const adapters = new Map<string, ProviderAdapter>()
    const pluginRoutes: Array<PluginRoute> = []
    const pluginMetrics: Array<MetricsPlugin> = []
    for (const { name, adapter, plugin } of plugins.providers) {
      const { instance } = plugin.loaded
      adapters.set(name, adapter)
      pluginRoutes.push(...(instance.routes ?? []))
      if (instance.metrics !== undefined) pluginMetrics.push({ name, metrics: instance.metrics })
    }

    const hookPlugins: Array<HookPlugin> = []
    for (const { entry, name, plugin } of plugins.hooks) {
      const { instance } = plugin.loaded
      pluginRoutes.push(...(instance.routes ?? []))
      if (instance.metrics !== undefined) pluginMetrics.push({ name, metrics: instance.metrics })
      if (instance.hooks !== undefined) {
        hookPlugins.push({ name, hooks: instance.hooks, failMode: entry.failMode, timeoutMs: entry.timeout, stats: plugin.stats })
      }
    }

    const router = new ModelRouter(config, adapters, previous?.router)
    // The pipeline observes every fiber it runs and handles its failure, so the runtime's own
    // "unhandled error" debug line would only repeat each rejected request.
    const runtime = yield* Effect.withUnhandledErrorLogLevel(Effect.runtime<never>(), Option.none())
    const hooks = new HookChain(hookPlugins, runtime)
    const inflight = new InflightRequests()
    let ready = true

    // Each finished request updates the Prometheus counters, then queues its usage record.
    const requestMetrics = new RequestMetrics({ isRoutable: (model) => Either.isRight(router.resolve(model)) })
    const recordUsage = (record: UsageRecord): void => {
      requestMetrics.observe(record)
      writer.record(record)
    }

    const proxy = makeProxyHandler({
      router,
      hooks,
      recordUsage,
      bodyLimitBytes: config.server.bodyLimit,
      runtime,
      inflight
    })
    const controlApp = makeControlApp({
      router,
      hooks,
      pluginRoutes,
      usageStore: store,
      isReady: () => ready,
      probeDatabase: sql`select 1`,
      metrics: { requests: requestMetrics, hookPlugins, pluginMetrics, inflight, usageWriterStats: writer.stats },
      adminKey: config.admin?.key,
      protectMetrics: config.admin?.protectMetrics ?? false
    })
    const gateway: Gateway = {
      proxy,
      controlApp,
      inflight,
      router,
      hooks,
      plugins: plugins.all,
      setReady: (value) => {
        ready = value
      }
    }
    yield* acquirePlugins(plugins.all)
    return gateway
  })
