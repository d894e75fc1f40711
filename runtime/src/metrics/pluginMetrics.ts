/**
 * Writing the figures that plugins report (`PluginInstance.metrics`) into a
 * scrape. Samples of one metric name from several plugin instances form one
 * family, each with its instance's `plugin` label. A plugin whose `metrics`
 * throws, or a metric whose name or type does not fit or whose name the
 * gateway uses itself, is left out of the scrape instead of failing it.
 */
import type { PluginMetric } from "@fluxen/sdk"
import { type ExpositionWriter, joinLabels, renderLabels } from "./PrometheusText.js"

/** A plugin instance that reports metrics, by the name its `plugin` label carries. */
export interface MetricsPlugin {
  readonly name: string
  readonly metrics: () => ReadonlyArray<PluginMetric>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

interface Family {
  readonly type: PluginMetric["type"]
  readonly help: string
  readonly lines: Array<{ readonly labels: string; readonly value: number }>
}

const readMetrics = (plugin: MetricsPlugin): ReadonlyArray<PluginMetric> => {
  try {
    return plugin.metrics()
  } catch {
    return []
  }
}

export const writePluginMetrics = (writer: ExpositionWriter, plugins: ReadonlyArray<MetricsPlugin>): void => {
  const families = new Map<string, Family>()
  for (const plugin of plugins) {
    const pluginLabel = renderLabels({ plugin: plugin.name })
    for (const metric of readMetrics(plugin)) {
      if (!METRIC_NAME.test(metric.name) || (metric.type !== "counter" && metric.type !== "gauge")) continue
      // The gateway's own families keep their names.
      if (writer.hasFamily(metric.name)) continue
      let family = families.get(metric.name)
      if (family === undefined) {
        family = { type: metric.type, help: metric.help, lines: [] }
        families.set(metric.name, family)
      }
      // A second plugin that reports the name with another type cannot join the family.
      if (family.type !== metric.type) continue
      for (const sample of metric.samples) {
        const labels = Object.entries(sample.labels ?? {}).filter(([name]) => LABEL_NAME.test(name) && name !== "plugin")
        family.lines.push({ labels: joinLabels(pluginLabel, renderLabels(Object.fromEntries(labels))), value: sample.value })
      }
    }
  }
  for (const [name, family] of families) {
    writer.family(name, family.type, family.help)
    for (const line of family.lines) writer.sample(name, line.labels, line.value)
  }
}
