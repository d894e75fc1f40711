/** The OpenTelemetry plugin's section of `fluxen.yaml`. */
import { TimerMillis } from "@fluxen/sdk"
import { Schema } from "effect"

export const DEFAULT_ENDPOINT = "http://127.0.0.1:4318/v1/traces"
export const DEFAULT_SERVICE_NAME = "fluxen"

// The batch defaults are those of the OpenTelemetry SDKs' batch span processor
// (schedule delay 5000 ms, max export batch size 512, max queue size 2048).
export const DEFAULT_BATCH_MAX_SPANS = 512
export const DEFAULT_BATCH_INTERVAL_MS = 5_000
export const DEFAULT_MAX_QUEUE_SIZE = 2_048
// The OTLP exporters' default timeout (OTEL_EXPORTER_OTLP_TIMEOUT).
export const DEFAULT_TIMEOUT_MS = 10_000

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

const TracesUrl = Schema.String.pipe(
  Schema.filter((text) => isHttpUrl(text) || `Expected an http:// or https:// URL such as ${DEFAULT_ENDPOINT}, got ${JSON.stringify(text)}`)
)

// An HTTP header name is a token (RFC 9110, section 5.6.2).
const HeaderName = Schema.String.pipe(
  Schema.pattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: () => "Expected an HTTP header name such as x-honeycomb-team" })
)

export const BatchConfig = Schema.Struct({
  /** Maximum number of spans in one export request. */
  maxSpans: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_BATCH_MAX_SPANS }),
  /** How long a span waits in the queue before it is exported, unless `maxSpans` spans are waiting sooner. */
  interval: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_BATCH_INTERVAL_MS }),
  /** Maximum number of spans waiting for export. Spans that end while the queue is full are dropped and counted. */
  maxQueueSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_MAX_QUEUE_SIZE })
}).pipe(
  Schema.filter((batch) =>
    batch.maxSpans <= batch.maxQueueSize
      ? undefined
      : { path: ["maxSpans"], message: `maxSpans (${batch.maxSpans}) must not exceed maxQueueSize (${batch.maxQueueSize})` }
  )
)
export type BatchConfig = typeof BatchConfig.Type

export const OtelConfig = Schema.Struct({
  /** The collector's OTLP/HTTP traces URL, which receives JSON-encoded spans. */
  endpoint: Schema.optionalWith(TracesUrl, { default: () => DEFAULT_ENDPOINT }),
  /** Headers sent with every export, such as a SaaS collector's API key. The values are secrets and are never logged. */
  headers: Schema.optionalWith(Schema.Record({ key: HeaderName, value: Schema.Redacted(Schema.String) }), { default: () => ({}) }),
  /** The `service.name` resource attribute of every span. */
  serviceName: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => DEFAULT_SERVICE_NAME }),
  /**
   * The share of new traces that are exported, from 0 to 1. A request whose
   * `traceparent` joins a client's trace follows that trace's sampled flag instead.
   */
  sampleRatio: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 }),
  batch: Schema.optionalWith(BatchConfig, {
    default: () => ({ maxSpans: DEFAULT_BATCH_MAX_SPANS, interval: DEFAULT_BATCH_INTERVAL_MS, maxQueueSize: DEFAULT_MAX_QUEUE_SIZE })
  }),
  /** How long one export request may take, and how long the spans still queued at shutdown may take to export. */
  timeout: Schema.optionalWith(TimerMillis, { default: () => DEFAULT_TIMEOUT_MS })
})
export type OtelConfig = typeof OtelConfig.Type
