/**
 * Writing the figures that plugins report (`PluginInstance.metrics`) into a
 * scrape. Samples of one metric name from several plugin instances form one
 * family, each with its instance's `plugin` label. A plugin whose `metrics`
 * throws, or a metric that Prometheus would reject or that the gateway names
 * itself, is left out of the scrape instead of failing it, and reported as a
 * `PluginMetricProblem` so that the caller can log it.
 */
import type { PluginMetric } from "@fluxen/sdk"
import { type ExpositionWriter, joinLabels, renderLabels } from "./PrometheusText.js"

/** A plugin instance that reports metrics, by the name its `plugin` label carries. */
export interface MetricsPlugin {
  readonly name: string
  readonly metrics: () => ReadonlyArray<PluginMetric>
}

/** A metric, or all metrics of a plugin, left out of a scrape. */
export interface PluginMetricProblem {
  /** The plugin instance's name. */
  readonly plugin: string
  /** The metric's name, or undefined when the plugin's `metrics` threw. */
  readonly metric: string | undefined
  readonly reason: string
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

interface Family {
  readonly type: PluginMetric["type"]
  readonly help: string
  readonly lines: Array<{ readonly labels: string; readonly value: number }>
}

const readMetrics = (plugin: MetricsPlugin, problems: Array<PluginMetricProblem>): ReadonlyArray<PluginMetric> => {
  try {
    return plugin.metrics()
  } catch (error) {
    problems.push({ plugin: plugin.name, metric: undefined, reason: `metrics() threw: ${error instanceof Error ? error.message : String(error)}` })
    return []
  }
}

/**
 * Renders the samples of one metric with the plugin's label, or returns why the metric
 * cannot be scraped: a label name that Prometheus rejects, or two samples with the same
 * labels, which Prometheus cannot store as two series.
 */
const renderSamples = (metric: PluginMetric, pluginLabel: string): Family["lines"] | string => {
  const lines: Family["lines"] = []
  const seen = new Set<string>()
  for (const sample of metric.samples) {
    const entries = Object.entries(sample.labels ?? {})
    const invalid = entries.find(([name]) => !LABEL_NAME.test(name))
    if (invalid !== undefined) return `the label name '${invalid[0]}' is invalid: use letters, digits and _, not starting with a digit`
    // The host sets `plugin` itself.
    const labels = joinLabels(pluginLabel, renderLabels(Object.fromEntries(entries.filter(([name]) => name !== "plugin"))))
    if (seen.has(labels)) return `two samples have the same labels {${labels}}`
    seen.add(labels)
    lines.push({ labels, value: sample.value })
  }
  return lines
}

/** Writes every plugin's metrics that fit, and returns the problems of those left out. */
export const writePluginMetrics = (writer: ExpositionWriter, plugins: ReadonlyArray<MetricsPlugin>): ReadonlyArray<PluginMetricProblem> => {
  const problems: Array<PluginMetricProblem> = []
  const families = new Map<string, Family>()
  for (const plugin of plugins) {
    const pluginLabel = renderLabels({ plugin: plugin.name })
    for (const metric of readMetrics(plugin, problems)) {
      const problem = (reason: string) => problems.push({ plugin: plugin.name, metric: String(metric.name), reason })
      if (!METRIC_NAME.test(metric.name)) {
        problem("the name is invalid: use letters, digits, _ and :, not starting with a digit")
        continue
      }
      if (metric.type !== "counter" && metric.type !== "gauge") {
        problem(`the type ${JSON.stringify(metric.type)} is invalid: use "counter" or "gauge"`)
        continue
      }
      // The gateway's own families keep their names.
      if (writer.hasFamily(metric.name)) {
        problem("the gateway reports a metric of this name itself")
        continue
      }
      const family = families.get(metric.name)
      // A second plugin that reports the name with another type cannot join the family.
      if (family !== undefined && family.type !== metric.type) {
        problem(`another plugin reports it as a ${family.type}`)
        continue
      }
      const lines = renderSamples(metric, pluginLabel)
      if (typeof lines === "string") {
        problem(lines)
        continue
      }
      if (family === undefined) families.set(metric.name, { type: metric.type, help: metric.help, lines })
      else family.lines.push(...lines)
    }
  }
  for (const [name, family] of families) {
    writer.family(name, family.type, family.help)
    for (const line of family.lines) writer.sample(name, line.labels, line.value)
  }
  return problems
}
