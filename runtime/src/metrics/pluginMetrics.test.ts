import { Effect, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { renderMetrics } from "./metricsRoute.js"
import { ExpositionWriter } from "./PrometheusText.js"
import { type MetricsPlugin, writePluginMetrics } from "./pluginMetrics.js"
import { RequestMetrics } from "./RequestMetrics.js"

const scrape = (write: (writer: ExpositionWriter) => void): string => {
  const writer = new ExpositionWriter()
  write(writer)
  return writer.toString()
}

const hits = (value: number) => [{ name: "fluxen_demo_hits_total", type: "counter" as const, help: "Hits.", samples: [{ labels: { result: "hit" }, value }] }]

describe("writePluginMetrics", () => {
  it("labels samples with the plugin", () => {
    const text = scrape((writer) => writePluginMetrics(writer, [{ name: "demo", metrics: () => hits(3) }]))

    expect(text).toBe('# HELP fluxen_demo_hits_total Hits.\n# TYPE fluxen_demo_hits_total counter\nfluxen_demo_hits_total{plugin="demo",result="hit"} 3\n')
  })

  it("merges instances into one family", () => {
    const text = scrape((writer) =>
      writePluginMetrics(writer, [
        { name: "a", metrics: () => hits(1) },
        { name: "b", metrics: () => hits(2) }
      ])
    )

    expect(text.match(/# TYPE fluxen_demo_hits_total/g)).toHaveLength(1)
    expect(text).toContain('fluxen_demo_hits_total{plugin="b",result="hit"} 2')
  })

  it("leaves out what does not fit", () => {
    const text = scrape((writer) => {
      writer.family("fluxen_inflight_requests", "gauge", "Gateway's own.")
      writePluginMetrics(writer, [
        { name: "bad-name", metrics: () => [{ name: "not a name", type: "counter", help: "x", samples: [{ value: 1 }] }] },
        { name: "taken", metrics: () => [{ name: "fluxen_inflight_requests", type: "gauge", help: "x", samples: [{ value: 1 }] }] },
        {
          name: "throws",
          metrics: () => {
            throw new Error("broken plugin")
          }
        }
      ])
    })

    expect(text).toBe("# HELP fluxen_inflight_requests Gateway's own.\n# TYPE fluxen_inflight_requests gauge\n")
  })

  it("keeps the plugin label its own", () => {
    const text = scrape((writer) =>
      writePluginMetrics(writer, [
        { name: "demo", metrics: () => [{ name: "fluxen_demo_up", type: "gauge", help: "Up.", samples: [{ labels: { plugin: "spoof" }, value: 1 }] }] }
      ])
    )

    expect(text).toContain('fluxen_demo_up{plugin="demo"} 1')
  })

  it("leaves out a metric with a bad label", () => {
    const writer = new ExpositionWriter()
    const teams = [{ labels: { "team-name": "a" }, value: 1 }, { labels: { "team-name": "b" }, value: 2 }]

    const problems = writePluginMetrics(writer, [
      { name: "demo", metrics: () => [{ name: "fluxen_demo_teams", type: "gauge", help: "Teams.", samples: teams }, ...hits(4)] }
    ])

    expect(writer.toString()).not.toContain("fluxen_demo_teams")
    expect(writer.toString()).toContain('fluxen_demo_hits_total{plugin="demo",result="hit"} 4')
    expect(problems).toHaveLength(1)
    expect(problems[0]?.metric).toBe("fluxen_demo_teams")
    expect(problems[0]?.reason).toContain("the label name 'team-name' is invalid")
  })

  it("leaves out duplicate label sets", () => {
    const writer = new ExpositionWriter()
    const samples = [{ labels: { result: "hit" }, value: 1 }, { labels: { result: "hit" }, value: 2 }]

    const problems = writePluginMetrics(writer, [{ name: "demo", metrics: () => [{ name: "fluxen_demo_twice", type: "counter", help: "Twice.", samples }] }])

    expect(writer.toString()).toBe("")
    expect(problems).toHaveLength(1)
    expect(problems[0]?.reason).toBe('two samples have the same labels {plugin="demo",result="hit"}')
  })

  it("reports each left-out metric", () => {
    const writer = new ExpositionWriter()
    writer.family("fluxen_inflight_requests", "gauge", "Gateway's own.")

    const problems = writePluginMetrics(writer, [
      { name: "bad-name", metrics: () => [{ name: "not a name", type: "counter", help: "x", samples: [{ value: 1 }] }] },
      { name: "taken", metrics: () => [{ name: "fluxen_inflight_requests", type: "gauge", help: "x", samples: [{ value: 1 }] }] },
      { name: "counter", metrics: () => hits(1) },
      { name: "gauge", metrics: () => [{ ...hits(1)[0]!, type: "gauge" }] },
      {
        name: "throws",
        metrics: () => {
          throw new Error("broken plugin")
        }
      }
    ])

    expect(problems).toEqual([
      { plugin: "bad-name", metric: "not a name", reason: "the name is invalid: use letters, digits, _ and :, not starting with a digit" },
      { plugin: "taken", metric: "fluxen_inflight_requests", reason: "the gateway reports a metric of this name itself" },
      { plugin: "gauge", metric: "fluxen_demo_hits_total", reason: "another plugin reports it as a counter" },
      { plugin: "throws", metric: undefined, reason: "metrics() threw: broken plugin" }
    ])
  })

  it("scrape logs each problem once", async () => {
    const logged: Array<unknown> = []
    const capture = Logger.make(({ message, annotations }) => {
      logged.push({ message, plugin: annotations.pipe((map) => Object.fromEntries(map)).plugin })
    })
    const broken: MetricsPlugin = {
      name: "demo",
      metrics: () => {
        throw new Error("broken plugin")
      }
    }
    const sources = {
      requests: new RequestMetrics(),
      hookPlugins: [],
      pluginMetrics: [broken],
      inflight: { size: 0 },
      usageWriterStats: Effect.succeed({ queued: 0, written: 0, dropped: 0, failedFlushes: 0 })
    }
    const reported = new Set<string>()
    const scrape = renderMetrics(sources, reported).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))

    await Effect.runPromise(scrape)
    await Effect.runPromise(scrape)

    expect(logged).toEqual([{ message: ["Plugin metric left out of the scrape"], plugin: "demo" }])
  })
})
