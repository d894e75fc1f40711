/**
 * The `@fluxen/otel` plugin in a running gateway. Each request's span
 * reaches a local OTLP/HTTP collector, joined to the client's trace, with
 * the GenAI attributes and without secrets or text. A dead collector leaves
 * requests unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { attributesOf, waitForSpan, type ExportRequest } from "../support/otlpCollector.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { CLIENT_API_KEY, fixtureJson, requestIdOf, startHarness, UPSTREAM_API_KEY, type Harness } from "./harness.js"

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
const CLIENT_SPAN_ID = "b7ad6b7169203331"
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`
const COLLECTOR_KEY = "collector-ingest-key-0123456789abcdef"
const PROMPT = "Invent a holiday and describe it in one paragraph."

const otelPlugins = (endpoint: string, extra = "") => `plugins:
  - use: "@fluxen/otel"
    config:
      endpoint: ${endpoint}
      headers:
        x-collector-key: ${COLLECTOR_KEY}
      serviceName: fluxen-e2e
      batch:
        interval: 50 millis
${extra}  - use: "@fluxen/analyzer"
`

describe("OpenTelemetry export", () => {
  let collector: ReplayUpstream
  let harness: Harness

  beforeAll(async () => {
    collector = await startReplayUpstream()
    collector.route("/v1/traces", { status: 200, body: "{}" })
    harness = await startHarness({ pluginsYaml: otelPlugins(`${collector.url}/v1/traces`) })
  })

  afterAll(async () => {
    await harness?.close()
    await collector?.close()
  })

  it("joins the client's trace", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }, { headers: { traceparent: TRACEPARENT, tracestate: "congo=t61rcWkgMzE" } })
      .withResponse()
    const span = await waitForSpan(collector, requestIdOf(response.headers))

    expect(span.traceId).toBe(TRACE_ID)
    expect(span.parentSpanId).toBe(CLIENT_SPAN_ID)
    expect(span.traceState).toBe("congo=t61rcWkgMzE")
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(span.name).toBe("chat gpt-4o-mini")
    expect(span.kind).toBe(2)
    expect(span.status.code).toBe(0)
    expect(BigInt(span.endTimeUnixNano)).toBeGreaterThan(BigInt(span.startTimeUnixNano))
  })

  it("sets the GenAI and Fluxen attributes", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }, { headers: { traceparent: TRACEPARENT } })
      .withResponse()
    const attributes = attributesOf(await waitForSpan(collector, requestIdOf(response.headers)))

    expect(attributes["gen_ai.operation.name"]).toBe("chat")
    expect(attributes["gen_ai.provider.name"]).toBe("openai")
    expect(attributes["gen_ai.request.model"]).toBe("gpt-4o-mini")
    expect(attributes["gen_ai.usage.input_tokens"]).toBe("16")
    expect(attributes["gen_ai.usage.output_tokens"]).toBe("363")
    expect(attributes["fluxen.upstream_model"]).toBe("gpt-4o-mini-2024-07-18")
    expect(attributes["fluxen.endpoint"]).toBe("chat")
    expect(attributes["fluxen.stream"]).toBe(false)
    expect(attributes["fluxen.usage.estimated"]).toBe(false)
    expect(attributes["fluxen.cost_usd"]).toBeCloseTo(0.0002202, 12)
    expect(attributes["http.response.status_code"]).toBe("200")
  })

  it("sends service name and headers", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }).withResponse()
    await waitForSpan(collector, requestIdOf(response.headers))
    const exported = collector.requests.at(-1)!

    expect(exported.method).toBe("POST")
    expect(exported.headers["content-type"]).toBe("application/json")
    expect(exported.headers["x-collector-key"]).toBe(COLLECTOR_KEY)
    expect((exported.json as ExportRequest).resourceSpans[0]!.resource.attributes).toContainEqual({
      key: "service.name",
      value: { stringValue: "fluxen-e2e" }
    })
  })

  it("starts a trace without traceparent", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    const { response } = await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }).withResponse()
    const span = await waitForSpan(collector, requestIdOf(response.headers))

    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(span.traceId).not.toBe(TRACE_ID)
    expect(span).not.toHaveProperty("parentSpanId")
  })

  it("counts the tokens of a stream", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text-stream-usage.sse" })

    const { response, data } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }], stream: true, stream_options: { include_usage: true } }, { headers: { traceparent: TRACEPARENT } })
      .withResponse()
    for await (const _chunk of data) {
      // Reading the stream to its end finishes the request.
    }
    const attributes = attributesOf(await waitForSpan(collector, requestIdOf(response.headers)))

    expect(attributes["fluxen.stream"]).toBe(true)
    expect(attributes["gen_ai.usage.input_tokens"]).toBe("78")
    expect(attributes["gen_ai.usage.output_tokens"]).toBe("9")
  })

  it("marks failed requests as errors", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/error-401-invalid-api-key.json" })

    const error = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }, { headers: { traceparent: TRACEPARENT } })
      .then(
        () => {
          throw new Error("The request succeeded, but the upstream returned 401.")
        },
        (caught: unknown) => caught as { status: number; headers: Headers }
      )
    const span = await waitForSpan(collector, requestIdOf(error.headers))

    expect(error.status).toBe(401)
    expect(span.status.code).toBe(2)
    expect(attributesOf(span)["error.type"]).toBe("UpstreamHttpError")
    expect(attributesOf(span)["http.response.status_code"]).toBe("401")
  })

  it("adds no trace header upstream", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })

    await harness.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }, { headers: { traceparent: TRACEPARENT } })

    expect(harness.upstream.requests.at(-1)!.headers).not.toHaveProperty("traceparent")
  })

  it("exports no secrets or text", async () => {
    harness.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    const { response } = await harness.client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] }, { headers: { traceparent: TRACEPARENT } })
      .withResponse()
    await waitForSpan(collector, requestIdOf(response.headers))
    const completion = fixtureJson("openai/chat-completions/text.json").choices[0].message.content as string

    const bodies = collector.requests.map((request) => request.body).join("\n")
    for (const secret of [UPSTREAM_API_KEY, CLIENT_API_KEY, COLLECTOR_KEY, PROMPT, completion.slice(0, 40)]) {
      expect(bodies, secret).not.toContain(secret)
    }
  })
})

describe("OpenTelemetry with a dead collector", () => {
  let harness: Harness | undefined

  beforeAll(async () => {
    // A collector that has closed, so nothing listens on its port.
    const dead = await startReplayUpstream()
    await dead.close()
    harness = await startHarness({ pluginsYaml: otelPlugins(`${dead.url}/v1/traces`, "      timeout: 1 second\n") })
  })

  afterAll(async () => {
    await harness?.close()
  })

  it("leaves requests succeeding", async () => {
    for (let index = 0; index < 3; index++) {
      harness!.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
      const completion = await harness!.client.chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] },
        { headers: { traceparent: TRACEPARENT } }
      )

      expect(completion.choices[0]!.message.content).toContain("Galaxy Day")
      // Spaced past the 50 ms batch interval, so that exports fail between requests.
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const metrics = await (await fetch(`${harness!.gateway.url}/metrics`)).text()

    // Three hooks a request, so the plugin was loaded and ran without a fault.
    expect(metrics).toContain('fluxen_plugin_hook_calls_total{plugin="@fluxen/otel"} 9')
    expect(metrics).toContain('fluxen_plugin_hook_faults_total{plugin="@fluxen/otel"} 0')
  })

  it("stops within the export timeout", async () => {
    const running = harness!
    running.upstream.enqueue({ fixture: "openai/chat-completions/text.json" })
    await running.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] })

    harness = undefined
    const closing = performance.now()
    await running.close()

    expect(performance.now() - closing).toBeLessThan(5_000)
  })
})
