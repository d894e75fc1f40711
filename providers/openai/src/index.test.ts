import { HttpTransport, Plugin, PluginHost, type HttpTransportService } from "@fluxen/sdk"
import { Effect, Either, HashMap, Layer, Logger, Schema } from "effect"
import { describe, expect, it } from "vitest"
import plugin, { OpenAIProviderConfig } from "./index.js"

const decode = Schema.decodeUnknownEither(OpenAIProviderConfig)

/** Builds the plugin's layer from `input` and returns the warnings it logged. */
const warningsOf = async (input: unknown): Promise<Array<{ message: string; provider: unknown }>> => {
  const warnings: Array<{ message: string; provider: unknown }> = []
  const logger = Logger.make(({ logLevel, message, annotations }) => {
    if (logLevel._tag !== "Warning") return
    warnings.push({ message: Array.isArray(message) ? message.join(" ") : String(message), provider: HashMap.unsafeGet(annotations, "provider") })
  })
  const transport: HttpTransportService = { send: () => Promise.reject(new Error("No request is expected.")) }
  const services = Layer.mergeAll(
    Layer.succeed(HttpTransport, transport),
    Layer.succeed(PluginHost, { instanceName: "openai", packageName: plugin.name, configDirectory: "." })
  )
  const layer = plugin.layer(Either.getOrThrow(decode(input))) as Layer.Layer<Plugin, unknown, HttpTransport | PluginHost>
  await Effect.runPromise(Effect.provide(Plugin, Layer.provide(layer, services)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
  return warnings
}

describe("provider without a key", () => {
  it("warns when the key is blank", async () => {
    const warnings = await warningsOf({ apiKey: "" })

    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.message).toContain("Provider 'openai' has no apiKey")
    expect(warnings[0]!.provider).toBe("openai")
  })

  it("quiet with a key", async () => {
    expect(await warningsOf({ apiKey: "sk-test" })).toEqual([])
  })

  it("quiet with a key in headers", async () => {
    expect(await warningsOf({ headers: { Authorization: "Bearer sk-from-header" } })).toEqual([])
  })

  it("quiet for keyless servers", async () => {
    expect(await warningsOf({ preset: "ollama" })).toEqual([])
    expect(await warningsOf({ baseUrl: "http://127.0.0.1:8000/v1", authStyle: "none" })).toEqual([])
  })
})

describe("tool call delta fields", () => {
  const chunk = 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"t1","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}\n\n'

  /** Streams one tool call chunk without `index` through the plugin's adapter and returns the relayed tool call. */
  const relayedCall = async (input: unknown) => {
    const transport: HttpTransportService = {
      send: async () => ({
        status: 200,
        headers: { "content-type": "text/event-stream" },
        body: (async function* () {
          yield new TextEncoder().encode(chunk)
        })(),
        bytes: async () => new TextEncoder().encode(chunk),
        discard: () => {}
      })
    }
    const services = Layer.mergeAll(
      Layer.succeed(HttpTransport, transport),
      Layer.succeed(PluginHost, { instanceName: "local", packageName: plugin.name, configDirectory: "." })
    )
    const layer = plugin.layer(Either.getOrThrow(decode(input))) as Layer.Layer<Plugin, unknown, HttpTransport | PluginHost>
    const { provider } = await Effect.runPromise(Effect.provide(Plugin, Layer.provide(layer, services)))
    const context = { requestId: "r", upstreamModel: "m", signal: new AbortController().signal, idleTimeoutMs: 1_000, clientHeaders: { get: () => undefined } }
    const result = await Effect.runPromise(provider!.chatStream({ model: "m", messages: [{ role: "user", content: "hi" }] } as never, context))
    for await (const event of result.events) return JSON.parse(event.data).choices[0].delta.tool_calls[0]
    return undefined
  }

  it("setting on: fields added", async () => {
    expect(await relayedCall({ baseUrl: "http://127.0.0.1:9/v1", apiKey: "k", completeToolCallDeltas: true })).toMatchObject({ index: 0, type: "function" })
  })

  it("default preset: chunk unchanged", async () => {
    expect(await relayedCall({ baseUrl: "http://127.0.0.1:9/v1", apiKey: "k" })).not.toHaveProperty("index")
  })
})
