/** `GET /metrics`: the gateway's counters in the Prometheus text format. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, type Redacted } from "effect"
import { adminKeyRejectionMessage, makeAdminKeyCheck, type AdminKeyRejection } from "../dashboard/adminKey.js"
import { makeAdminKeyGuard } from "../http/adminKeyGuard.js"
import type { HookPlugin } from "../plugins/HookChain.js"
import { type MetricsPlugin, type PluginMetricProblem, writePluginMetrics } from "./pluginMetrics.js"
import type { UsageWriterStats } from "../usage/UsageWriter.js"
import { ExpositionWriter, prometheusContentType, renderLabels } from "./PrometheusText.js"
import type { RequestMetrics } from "./RequestMetrics.js"

/** Sources of a scrape: the request counters and the live state of the plugins, the pipeline and the usage writer. */
export interface MetricsSources {
  readonly requests: RequestMetrics
  readonly hookPlugins: ReadonlyArray<HookPlugin>
  /** The plugin instances that report figures of their own. */
  readonly pluginMetrics: ReadonlyArray<MetricsPlugin>
  readonly inflight: { readonly size: number }
  readonly usageWriterStats: Effect.Effect<UsageWriterStats>
}

const writeHookStats = (writer: ExpositionWriter, plugins: ReadonlyArray<HookPlugin>): void => {
  const labelsOf = plugins.map((plugin) => renderLabels({ plugin: plugin.name }))

  writer.family("fluxen_plugin_hook_calls_total", "counter", "Hook calls per plugin, across beforeRequest, afterResponse and afterUsage.")
  plugins.forEach((plugin, index) => writer.sample("fluxen_plugin_hook_calls_total", labelsOf[index]!, plugin.stats.calls))

  writer.family("fluxen_plugin_hook_faults_total", "counter", "Hook calls that threw, died or timed out, per plugin; timeouts included.")
  plugins.forEach((plugin, index) => writer.sample("fluxen_plugin_hook_faults_total", labelsOf[index]!, plugin.stats.faults))

  writer.family("fluxen_plugin_hook_timeouts_total", "counter", "Hook calls that exceeded the plugin's timeout, per plugin.")
  plugins.forEach((plugin, index) => writer.sample("fluxen_plugin_hook_timeouts_total", labelsOf[index]!, plugin.stats.timeouts))

  writer.family("fluxen_plugin_hook_seconds_total", "counter", "Seconds spent in each plugin's hooks.")
  plugins.forEach((plugin, index) => writer.sample("fluxen_plugin_hook_seconds_total", labelsOf[index]!, plugin.stats.totalMs / 1000))
}

const writeUsageWriterStats = (writer: ExpositionWriter, stats: UsageWriterStats): void => {
  writer.family("fluxen_usage_queue_records", "gauge", "Usage records waiting to be written to the database, including a batch being inserted.")
  writer.sample("fluxen_usage_queue_records", "", stats.queued)

  writer.family("fluxen_usage_written_records_total", "counter", "Usage records handed to the database in successful inserts.")
  writer.sample("fluxen_usage_written_records_total", "", stats.written)

  writer.family("fluxen_usage_dropped_records_total", "counter", "Usage records lost because the queue was full or shutdown gave up on them.")
  writer.sample("fluxen_usage_dropped_records_total", "", stats.dropped)

  writer.family("fluxen_usage_failed_flushes_total", "counter", "Failed insert attempts of the usage writer, each retry counted.")
  writer.sample("fluxen_usage_failed_flushes_total", "", stats.failedFlushes)
}

/**
 * Logs each plugin metric problem the first time it occurs, so that a plugin author learns
 * why a metric is missing and a scrape every few seconds does not repeat the line.
 */
const logNewProblems = (problems: ReadonlyArray<PluginMetricProblem>, reported: Set<string>): Effect.Effect<void> =>
  Effect.forEach(
    problems.filter((problem) => {
      const key = `${problem.plugin}\u0000${problem.metric ?? ""}\u0000${problem.reason}`
      if (reported.has(key)) return false
      reported.add(key)
      return true
    }),
    (problem) =>
      Effect.logWarning("Plugin metric left out of the scrape").pipe(
        Effect.annotateLogs({ plugin: problem.plugin, metric: problem.metric ?? "(all)", reason: problem.reason })
      ),
    { discard: true }
  )

/** Renders one scrape. `reportedProblems` keeps the plugin metric problems already logged. */
export const renderMetrics = (sources: MetricsSources, reportedProblems: Set<string> = new Set()): Effect.Effect<string> =>
  Effect.flatMap(sources.usageWriterStats, (stats) => {
    const writer = new ExpositionWriter()
    sources.requests.write(writer)
    writeHookStats(writer, sources.hookPlugins)

    writer.family("fluxen_inflight_requests", "gauge", "Proxied requests being handled now.")
    writer.sample("fluxen_inflight_requests", "", sources.inflight.size)

    writeUsageWriterStats(writer, stats)
    const problems = writePluginMetrics(writer, sources.pluginMetrics)
    const text = writer.toString()
    return problems.length === 0 ? Effect.succeed(text) : Effect.as(logNewProblems(problems, reportedProblems), text)
  })

const rejectionMessages: Readonly<Record<AdminKeyRejection, string>> = {
  not_configured: "The metrics need admin.key, which the configuration file does not set.",
  missing:
    "The metrics need the admin key, because admin.protectMetrics is true: send 'Authorization: Bearer <admin.key>' or add ?key=<admin.key> to the URL.",
  invalid: adminKeyRejectionMessage.invalid
}

/**
 * Adds `GET /metrics` to a router. Without `adminKey` the route is open, as
 * Prometheus scrapes usually are: it shows provider, model and plugin names
 * and counts, never keys, teams or prompt text. With `adminKey` it responds
 * with 401 unless the request carries that key.
 */
export const metricsRoute = (sources: MetricsSources, adminKey: Redacted.Redacted<string> | undefined) => {
  const reportedProblems = new Set<string>()
  const scrape = Effect.map(renderMetrics(sources, reportedProblems), (body) =>
    HttpServerResponse.text(body, { contentType: prometheusContentType, headers: { "cache-control": "no-store" } })
  )
  const guard = adminKey === undefined ? undefined : makeAdminKeyGuard(makeAdminKeyCheck(adminKey), rejectionMessages)
  return HttpRouter.get("/metrics", guard === undefined ? scrape : guard(scrape))
}
