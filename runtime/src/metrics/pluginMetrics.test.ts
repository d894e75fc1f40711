import { describe, expect, it } from "vitest"
import { ExpositionWriter } from "./PrometheusText.js"
import { writePluginMetrics } from "./pluginMetrics.js"

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
})
