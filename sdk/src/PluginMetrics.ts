/**
 * Figures a plugin reports on the gateway's `GET /metrics`, such as a
 * cache's hits or a store's connection state. The host calls the plugin's
 * `metrics` on each scrape and adds a `plugin` label with the instance name,
 * so two instances of one plugin report apart.
 */

export interface PluginMetricSample {
  /**
   * Labels besides `plugin`, which the host sets. Names are Prometheus label names
   * (`[a-zA-Z_][a-zA-Z0-9_]*`, so `team_name`, not `team-name`), and each sample of a metric
   * needs a set of labels of its own. The host leaves out a metric that breaks either rule.
   */
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

export interface PluginMetric {
  /**
   * The metric's name in Prometheus' form (`[a-zA-Z_:][a-zA-Z0-9_:]*`),
   * prefixed `fluxen_` and named for the plugin, such as `fluxen_cache_lookups_total`.
   * A name that does not fit is left out of the scrape.
   */
  readonly name: string
  readonly type: "counter" | "gauge"
  readonly help: string
  readonly samples: ReadonlyArray<PluginMetricSample>
}
