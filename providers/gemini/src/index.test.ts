import { HttpTransport, Plugin, PluginHost } from "@fluxen/sdk"
import { Effect, Either, Layer, Redacted, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { fakeTransport, fixtureReply } from "../test/fixtures.js"
import plugin, { GeminiProviderConfig } from "./index.js"

const decode = Schema.decodeUnknownEither(GeminiProviderConfig)

describe("plugin definition", () => {
  it("config defaults", () => {
    const config = Either.getOrThrow(decode({ apiKey: "k-1" }))
    expect(config.baseUrl).toBe("https://generativelanguage.googleapis.com/v1beta")
    expect(Redacted.isRedacted(config.apiKey)).toBe(true)
    expect(String(config.apiKey)).not.toContain("k-1")
  })

  const invalidConfigs: ReadonlyArray<readonly [string, unknown]> = [
    ["missing key", {}],
    ["empty key", { apiKey: "" }],
    ["base URL without scheme", { apiKey: "k", baseUrl: "generativelanguage.googleapis.com" }]
  ]
  for (const [name, input] of invalidConfigs) {
    it(`rejects ${name}`, () => {
      expect(Either.isLeft(decode(input))).toBe(true)
    })
  }

  it("layer provides a working adapter", async () => {
    const transport = fakeTransport(fixtureReply("generate-content/max-tokens.json"))
    const config = Either.getOrThrow(decode({ apiKey: "k-2", baseUrl: "http://127.0.0.1:9/v1beta" }))
    const services = Layer.mergeAll(
      Layer.succeed(HttpTransport, transport.service),
      Layer.succeed(PluginHost, { instanceName: "google", packageName: plugin.name, configDirectory: "." })
    )
    // The contract lets a plugin layer require the gateway's SqlClient too, but this one reads only these two services.
    const layer = plugin.layer(config) as Layer.Layer<Plugin, unknown, HttpTransport | PluginHost>
    const instance = await Effect.runPromise(Effect.provide(Plugin, Layer.provide(layer, services)))
    const result = await Effect.runPromise(
      instance.provider!.chat(
        { model: "m", messages: [{ role: "user", content: "Hi" }] },
        { requestId: "r", upstreamModel: "gemini-2.5-flash", signal: new AbortController().signal, idleTimeoutMs: 1_000, clientHeaders: { get: () => undefined } }
      )
    )

    expect(plugin.name).toBe("@fluxen/provider-gemini")
    expect(result.status).toBe(200)
    expect(transport.requests[0]!.provider).toBe("google")
    expect(transport.requests[0]!.url).toBe("http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent")
    expect(transport.requests[0]!.headers["x-goog-api-key"]).toBe("k-2")
  })
})
