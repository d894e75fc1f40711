import { describe, expect, it } from "@effect/vitest"
import { layerInputs, sortedKeysJson } from "./layerInputs.js"
import type { PluginRequest } from "./PluginLoader.js"

const request = (config: unknown, converted: PluginRequest["converted"] = []): PluginRequest => ({
  packageName: "@fluxen/cache",
  instanceName: "cache",
  config,
  yamlPath: ["plugins", 0],
  converted
})

describe("layerInputs", () => {
  it("ignores the order of keys", () => {
    const first = request({ store: "memory", ttl: "1 hour", redis: { url: "redis://127.0.0.1:6379", prefix: "c:" } })
    const reordered = request({ redis: { prefix: "c:", url: "redis://127.0.0.1:6379" }, ttl: "1 hour", store: "memory" })

    expect(layerInputs(reordered, "/etc/fluxen")).toBe(layerInputs(first, "/etc/fluxen"))
  })

  it("keeps the order of list items", () => {
    const first = request({ models: ["a", "b"] })
    const swapped = request({ models: ["b", "a"] })

    expect(layerInputs(swapped, "/etc/fluxen")).not.toBe(layerInputs(first, "/etc/fluxen"))
  })

  it("ignores the order of converted values", () => {
    const port = { path: ["port"], value: 6379, text: "6379" }
    const tls = { path: ["tls"], value: true, text: "true" }
    const config = { port: 6379, tls: true }

    expect(layerInputs(request(config, [tls, port]), "/etc/fluxen")).toBe(layerInputs(request(config, [port, tls]), "/etc/fluxen"))
  })

  it("changes with a converted value's text", () => {
    const config = { port: 42 }

    expect(layerInputs(request(config, [{ path: ["port"], value: 42, text: "0042" }]), "/etc/fluxen")).not.toBe(
      layerInputs(request(config, [{ path: ["port"], value: 42, text: "42" }]), "/etc/fluxen")
    )
  })

  it("changes with a value or the directory", () => {
    const inputs = layerInputs(request({ ttl: "1 hour" }), "/etc/fluxen")

    expect(layerInputs(request({ ttl: "2 hours" }), "/etc/fluxen")).not.toBe(inputs)
    expect(layerInputs(request({ ttl: "1 hour" }), "/srv/fluxen")).not.toBe(inputs)
  })
})

describe("sortedKeysJson", () => {
  it("sorts nested keys and keeps arrays", () => {
    expect(sortedKeysJson({ b: [{ d: 1, c: 2 }], a: null })).toBe(`{"a":null,"b":[{"c":2,"d":1}]}`)
  })

  it("drops undefined values as JSON does", () => {
    expect(sortedKeysJson({ b: undefined, a: 1 })).toBe(`{"a":1}`)
  })
})
