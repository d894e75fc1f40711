/**
 * The OpenTelemetry plugin: one span per proxied request, exported in
 * batches to an OTLP/HTTP collector (JSON encoding) by a background fiber.
 *
 * A request whose client sent a valid `traceparent` joins the client's trace
 * as a child span, and any other request starts a trace. Fluxen adds no header
 * to the upstream call, because the hook contract gives `beforeRequest` no
 * way to set upstream headers.
 */
import { definePlugin, HttpTransport, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer } from "effect"
import { startExportLoop } from "./ExportLoop.js"
import { OtelConfig } from "./OtelConfig.js"
import { makeOtlpSender } from "./OtlpSender.js"
import type { FinishedSpan } from "./RequestSpan.js"
import { makeSpanHooks } from "./SpanHooks.js"
import { SpanQueue } from "./SpanQueue.js"

export { BatchConfig, OtelConfig } from "./OtelConfig.js"
export { encodeExportRequest, spanAttributes } from "./OtlpJson.js"
export { parseTraceParent, type ParentContext } from "./TraceContext.js"

/** Returns the collector URL without credentials or query, which may carry an API key, for logs. */
const loggableUrl = (endpoint: string): string => {
  const url = new URL(endpoint)
  return `${url.protocol}//${url.host}${url.pathname}`
}

export default definePlugin({
  name: "@fluxen/otel",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: OtelConfig,
  layer: (config) =>
    Layer.scoped(
      Plugin,
      Effect.gen(function* () {
        const host = yield* PluginHost
        const transport = yield* HttpTransport

        const annotations = { plugin: host.instanceName, "otel.endpoint": loggableUrl(config.endpoint) }
        const queue = new SpanQueue<FinishedSpan>(config.batch.maxQueueSize, config.batch.maxSpans)
        const send = makeOtlpSender({
          transport,
          endpoint: config.endpoint,
          headers: config.headers,
          serviceName: config.serviceName,
          timeoutMs: config.timeout,
          pluginName: host.instanceName
        })
        yield* startExportLoop({ queue, send, intervalMs: config.batch.interval, timeoutMs: config.timeout, annotations })

        yield* Effect.logInfo("OpenTelemetry export started").pipe(
          Effect.annotateLogs({ ...annotations, "otel.service_name": config.serviceName, "otel.sample_ratio": config.sampleRatio })
        )
        return { hooks: makeSpanHooks({ pluginName: host.instanceName, sampleRatio: config.sampleRatio, queue }) }
      })
    )
})
