import { HttpTransport, Plugin, PluginHost, type RequestHooks } from "@fluxen/sdk"
import { makeFetchTransport, makeRequestContext, startReplayUpstream, type ReplayUpstream } from "@fluxen/sdk/testing"
import { Context, Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import definition, { OtelConfig } from "./index.js"
import { recordedOk } from "./testing/recordedUsage.js"

const API_KEY = "hc-secret-ingest-key-0123456789"

interface RunningPlugin {
  readonly hooks: Required<Pick<RequestHooks, "beforeRequest" | "afterResponse" | "afterUsage">>
  /** Every log line: the message followed by its annotations. */
  readonly logs: Array<string>
  readonly close: () => Promise<void>
}

/** Builds the plugin as the host does, with the fetch transport and a logger that keeps every line. */
const startPlugin = async (config: unknown): Promise<RunningPlugin> => {
  const logs: Array<string> = []
  const logger = Logger.make(({ message, annotations }) => {
    logs.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
  })
  const services = Layer.mergeAll(
    Layer.succeed(PluginHost, { instanceName: "otel", packageName: "@fluxen/otel", configDirectory: "." }),
    Layer.succeed(HttpTransport, makeFetchTransport()),
    Logger.replace(Logger.defaultLogger, logger)
  )
  const decoded = Schema.decodeUnknownSync(OtelConfig)(config)
  const scope = Effect.runSync(Scope.make())
  // The host also provides SqlClient, which this plugin does not use.
  const layer = definition.layer(decoded) as Layer.Layer<Plugin, unknown, PluginHost | HttpTransport>
  const built = await Effect.runPromise(Layer.buildWithScope(layer, scope).pipe(Effect.provide(services)))
  const hooks = Context.get(built, Plugin).hooks as RunningPlugin["hooks"]
  return { hooks, logs, close: () => Effect.runPromise(Scope.close(scope, Exit.void).pipe(Effect.provide(services))) }
}

/** Runs one request through the hooks, as the host does for a request that succeeded. */
const runRequest = (plugin: RunningPlugin, traceparent?: string): void => {
  const context = makeRequestContext({
    request: { model: "gpt-4o-mini", messages: [{ role: "user", content: "a private prompt" }] },
    headers: traceparent === undefined ? {} : { traceparent }
  })
  Effect.runSync(plugin.hooks.beforeRequest(context))
  Effect.runSync(plugin.hooks.afterUsage(context, recordedOk))
}

const spansIn = (collector: ReplayUpstream, index: number): Array<{ name: string }> =>
  (collector.requests[index]!.json as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> }).resourceSpans[0]!
    .scopeSpans[0]!.spans

const waitFor = async (condition: () => boolean, timeoutMs = 3_000): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`The condition did not hold within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Returns the URL of a loopback server that has closed, so nothing listens on its port. */
const closedServerUrl = async (): Promise<string> => {
  const server = await startReplayUpstream()
  await server.close()
  return server.url
}

const accepted = { recording: { body: "{}" } }

describe("OpenTelemetry plugin", () => {
  let collector: ReplayUpstream | undefined

  afterEach(async () => {
    await collector?.close()
    collector = undefined
  })

  it("exports queued spans on close", async () => {
    collector = await startReplayUpstream()
    collector.enqueue(accepted)
    const plugin = await startPlugin({
      endpoint: `${collector.url}/v1/traces`,
      headers: { "x-honeycomb-team": API_KEY },
      batch: { interval: "1 hour" }
    })

    for (let index = 0; index < 3; index++) runRequest(plugin)
    expect(collector.requests).toHaveLength(0)
    await plugin.close()

    expect(collector.requests).toHaveLength(1)
    expect(collector.requests[0]!.path).toBe("/v1/traces")
    expect(collector.requests[0]!.headers["content-type"]).toBe("application/json")
    expect(collector.requests[0]!.headers["x-honeycomb-team"]).toBe(API_KEY)
    expect(spansIn(collector, 0)).toHaveLength(3)
  })

  it("exports a full batch early", async () => {
    collector = await startReplayUpstream()
    collector.enqueue(accepted)
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 hour", maxSpans: 2 } })

    runRequest(plugin)
    runRequest(plugin)
    await waitFor(() => collector!.requests.length === 1)
    await plugin.close()

    expect(spansIn(collector, 0)).toHaveLength(2)
  })

  it("exports after the interval", async () => {
    collector = await startReplayUpstream()
    collector.enqueue(accepted)
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: 50 } })

    runRequest(plugin)
    await waitFor(() => collector!.requests.length === 1)
    await plugin.close()

    expect(spansIn(collector, 0)).toHaveLength(1)
  })

  it("drops spans past the queue bound", async () => {
    collector = await startReplayUpstream()
    collector.enqueue(accepted)
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 hour", maxSpans: 5, maxQueueSize: 5 } })

    for (let index = 0; index < 8; index++) runRequest(plugin)
    await plugin.close()

    expect(spansIn(collector, 0)).toHaveLength(5)
    const warning = plugin.logs.find((line) => line.startsWith("The span queue was full"))
    expect(warning).toContain('"spans.dropped":3')
  })

  it("survives a dead collector", async () => {
    const plugin = await startPlugin({
      endpoint: `${await closedServerUrl()}/v1/traces?api-key=${API_KEY}`,
      headers: { authorization: `Bearer ${API_KEY}` },
      batch: { interval: 20 },
      timeout: "2 seconds"
    })

    for (let index = 0; index < 3; index++) runRequest(plugin)
    await waitFor(() => plugin.logs.some((line) => line.startsWith("Exporting spans to the OTLP collector failed")))
    runRequest(plugin)
    const closing = performance.now()
    await plugin.close()

    expect(performance.now() - closing).toBeLessThan(2_000)
    expect(plugin.logs.join("\n")).not.toContain(API_KEY)
  })

  it("backs off after a failed export", async () => {
    collector = await startReplayUpstream()
    for (let index = 0; index < 4; index++) collector.enqueue({ recording: { status: 503, body: "{}" } })
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 second", maxSpans: 1 } })

    for (let index = 0; index < 4; index++) runRequest(plugin)
    await waitFor(() => collector!.requests.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 300))

    // Four full batches were waiting, but after the first failure the next attempt waits for the interval.
    expect(collector.requests).toHaveLength(1)
    await plugin.close()
  })

  it("bounds the flush at shutdown", async () => {
    collector = await startReplayUpstream()
    collector.enqueue({ recording: { body: "{}" }, hangAfterWrites: 0 })
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 hour" }, timeout: "300 millis" })

    runRequest(plugin)
    const closing = performance.now()
    await plugin.close()

    expect(performance.now() - closing).toBeLessThan(1_500)
    expect(plugin.logs.find((line) => line.startsWith("OpenTelemetry export stopped"))).toContain('"spans.failed":1')
  })

  it("reports a rejected API key", async () => {
    collector = await startReplayUpstream()
    collector.enqueue({ recording: { status: 401, body: '{"message":"unknown API key"}' } })
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, headers: { "x-api-key": API_KEY }, batch: { interval: "1 hour" } })

    runRequest(plugin)
    await plugin.close()

    const warning = plugin.logs.find((line) => line.startsWith("Exporting spans to the OTLP collector failed"))
    expect(warning).toContain("Check the API key under headers.")
    expect(warning).toContain('"http.status":401')
    expect(warning).not.toContain(API_KEY)
  })

  it("sends no prompt text", async () => {
    collector = await startReplayUpstream()
    collector.enqueue(accepted)
    const plugin = await startPlugin({ endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 hour" } })

    runRequest(plugin, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    await plugin.close()

    expect(collector.requests[0]!.body).not.toContain("a private prompt")
  })
})

describe("OpenTelemetry config", () => {
  const decode = Schema.decodeUnknownEither(OtelConfig, { errors: "all", onExcessProperty: "error" })

  it("fills in the defaults", () => {
    const decoded = Schema.decodeUnknownSync(OtelConfig)({})

    expect(decoded.endpoint).toBe("http://127.0.0.1:4318/v1/traces")
    expect(decoded.serviceName).toBe("fluxen")
    expect(decoded.sampleRatio).toBe(1)
    expect(decoded.batch).toEqual({ maxSpans: 512, interval: 5_000, maxQueueSize: 2_048 })
    expect(decoded.timeout).toBe(10_000)
  })

  const invalid: ReadonlyArray<{ readonly name: string; readonly config: unknown }> = [
    { name: "a relative endpoint", config: { endpoint: "/v1/traces" } },
    { name: "a gRPC endpoint", config: { endpoint: "grpc://127.0.0.1:4317" } },
    { name: "a ratio above 1", config: { sampleRatio: 1.5 } },
    { name: "a negative ratio", config: { sampleRatio: -0.1 } },
    { name: "a batch larger than the queue", config: { batch: { maxSpans: 100, maxQueueSize: 10 } } },
    { name: "a zero interval", config: { batch: { interval: 0 } } },
    { name: "an endless interval", config: { batch: { interval: Number.POSITIVE_INFINITY } } },
    { name: "an interval past 24.8 days", config: { batch: { interval: "25 days" } } },
    { name: "a zero timeout", config: { timeout: 0 } },
    { name: "an endless timeout", config: { timeout: Number.POSITIVE_INFINITY } },
    { name: "a header name with a space", config: { headers: { "x api key": "value" } } },
    { name: "an unknown key", config: { propagate: true } }
  ]

  it.each(invalid)("rejects $name", ({ config }) => {
    expect(decode(config)._tag).toBe("Left")
  })
})
