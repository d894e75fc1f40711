/**
 * The composition of one running Fluxen, independent of the HTTP server:
 * providers and hook plugins loaded from the configuration, the model
 * router, the request pipeline and the control routes.
 */
import { SqlClient } from "@effect/sql"
import type { PluginRoute, ProviderAdapter } from "@fluxen/sdk"
import { Effect, Either, Option } from "effect"
import { convertedUnder } from "./config/decodeWithEnvText.js"
import { formatPath } from "./config/interpolateEnv.js"
import type { LoadedConfig } from "./config/loadConfig.js"
import { makeControlApp } from "./http/ControlApp.js"
import type { MetricsPlugin } from "./metrics/pluginMetrics.js"
import { RequestMetrics } from "./metrics/RequestMetrics.js"
import type { Exchange } from "./http/Exchange.js"
import type { EndpointSpec } from "./pipeline/endpoints.js"
import { InflightRequests, makeProxyHandler } from "./pipeline/ProxyHandler.js"
import { HookChain, makeHookStats, type HookPlugin } from "./plugins/HookChain.js"
import { loadPlugin, type ModuleImporter } from "./plugins/PluginLoader.js"
import { PluginLoadError } from "./plugins/PluginLoadError.js"
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
  /** Marks the gateway as draining: `/readyz` turns 503 so load balancers stop sending. */
  readonly setReady: (ready: boolean) => void
}

export const makeGateway = (loaded: LoadedConfig, importer: ModuleImporter) =>
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
      providers: Object.keys(config.providers)
    }

    const adapters = new Map<string, ProviderAdapter>()
    const pluginRoutes: Array<PluginRoute> = []
    const pluginMetrics: Array<MetricsPlugin> = []
    for (const [name, entry] of Object.entries(config.providers)) {
      const plugin = yield* loadPlugin(
        {
          packageName: entry.use,
          instanceName: name,
          config: entry.config,
          yamlPath: ["providers", name],
          converted: convertedUnder(loaded.converted ?? [], ["providers", name, "config"])
        },
        loadOptions
      )
      if (plugin.instance.provider === undefined) {
        return yield* new PluginLoadError({
          plugin: name,
          path: formatPath(["providers", name, "use"]),
          message: `The package '${entry.use}' named under providers.${name} provides no provider adapter.`
        })
      }
      adapters.set(name, plugin.instance.provider)
      pluginRoutes.push(...(plugin.instance.routes ?? []))
      if (plugin.instance.metrics !== undefined) pluginMetrics.push({ name, metrics: plugin.instance.metrics })
    }

    const hookPlugins: Array<HookPlugin> = []
    for (const [index, entry] of config.plugins.entries()) {
      const name = entry.name ?? entry.use
      const plugin = yield* loadPlugin(
        {
          packageName: entry.use,
          instanceName: name,
          config: entry.config,
          yamlPath: ["plugins", index],
          converted: convertedUnder(loaded.converted ?? [], ["plugins", index, "config"])
        },
        loadOptions
      )
      pluginRoutes.push(...(plugin.instance.routes ?? []))
      if (plugin.instance.metrics !== undefined) pluginMetrics.push({ name, metrics: plugin.instance.metrics })
      if (plugin.instance.hooks !== undefined) {
        hookPlugins.push({ name, hooks: plugin.instance.hooks, failMode: entry.failMode, timeoutMs: entry.timeout, stats: makeHookStats() })
      }
    }

    const router = new ModelRouter(config, adapters)
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
      setReady: (value) => {
        ready = value
      }
    }
    return gateway
  })
