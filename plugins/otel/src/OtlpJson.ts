/**
 * Encodes finished spans as an OTLP/HTTP JSON `ExportTraceServiceRequest`:
 * ids as lowercase hex, 64-bit integers and nanosecond timestamps as
 * decimal strings, enums as numbers.
 *
 * The attribute names follow the OpenTelemetry semantic conventions for
 * generative AI (`gen_ai.*`, still at Development status) and HTTP
 * (`http.response.status_code`, `error.type`); Fluxen's own facts are under
 * `fluxen.*`. No attribute carries prompt or completion text or a key.
 */
import type { Endpoint } from "@fluxen/sdk"
import type { FinishedSpan } from "./RequestSpan.js"
import { newSpanId, newTraceId } from "./SpanIds.js"

export const SCOPE_NAME = "@fluxen/otel"
export const SCOPE_VERSION = "0.1.0"

/**
 * `gen_ai.operation.name` of each endpoint. The Responses and Messages APIs generate chat turns.
 * The conventions name no operation for token counting, so it gets a name of its own.
 */
const operationNames: Record<Endpoint, string> = {
  chat: "chat",
  completions: "text_completion",
  embeddings: "embeddings",
  responses: "chat",
  messages: "chat",
  count_tokens: "count_tokens"
}

const SPAN_KIND_SERVER = 2
const STATUS_UNSET = 0
const STATUS_ERROR = 2

type AnyValue = { readonly stringValue: string } | { readonly intValue: string } | { readonly doubleValue: number } | { readonly boolValue: boolean }

export interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}

const text = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } })
const integer = (key: string, value: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(value)) } })
const double = (key: string, value: number): KeyValue => ({ key, value: { doubleValue: value } })
const flag = (key: string, value: boolean): KeyValue => ({ key, value: { boolValue: value } })

/** Converts epoch milliseconds with a fraction to nanoseconds, kept to the microsecond so the number stays exact. */
export const toUnixNanos = (epochMs: number): string => `${Math.round(epochMs * 1_000)}000`

/** Returns `gen_ai.operation.name` for an endpoint. */
export const operationName = (endpoint: Endpoint): string => operationNames[endpoint]

/** Returns the span name: the operation and the requested model, as the GenAI conventions name spans. */
export const spanName = (span: FinishedSpan): string => `${operationName(span.endpoint)} ${span.requestedModel}`

/** Returns `error.type`: the gateway error's tag, or the HTTP status of a failed request without one. */
const errorTypeOf = (span: FinishedSpan): string | undefined => {
  if (span.status !== "error") return undefined
  return span.errorType ?? String(span.httpStatus)
}

/** Lists a span's attributes. */
export const spanAttributes = (span: FinishedSpan): Array<KeyValue> => {
  const attributes = [
    text("gen_ai.operation.name", operationName(span.endpoint)),
    text("gen_ai.provider.name", span.provider),
    // The deprecated name that gen_ai.provider.name replaced, which some backends still read.
    text("gen_ai.system", span.provider),
    text("gen_ai.request.model", span.requestedModel),
    integer("http.response.status_code", span.httpStatus),
    text("fluxen.request_id", span.requestId),
    text("fluxen.endpoint", span.endpoint),
    flag("fluxen.stream", span.stream),
    text("fluxen.status", span.status),
    text("fluxen.upstream_model", span.upstreamModel)
  ]
  const errorType = errorTypeOf(span)
  if (errorType !== undefined) attributes.push(text("error.type", errorType))

  // NOTE: set only where the host has the model without parsing more than it does anyway (see
  // `Outcome.responseModel`). JSON bodies have it when the adapter built or parsed them. That
  // covers Anthropic and Gemini on the chat route, every provider on the Messages route,
  // Anthropic's native Messages, and the completions and Responses passthrough. A body that
  // another plugin read has it too, as when the cache stores a response. An OpenAI-compatible
  // chat or embeddings body relayed unread has none. Streams have it from their first parsed
  // event that names it: the usage chunk of an OpenAI-compatible stream, any event of a
  // translated one, Anthropic's `message_start` and the Responses API's lifecycle events. An
  // OpenAI-compatible stream without a usage chunk has none, unless a hook had it assembled.
  if (span.responseModel !== undefined) attributes.push(text("gen_ai.response.model", span.responseModel))

  const usage = span.usage
  if (usage !== undefined) {
    attributes.push(
      integer("gen_ai.usage.input_tokens", usage.promptTokens),
      integer("gen_ai.usage.output_tokens", usage.completionTokens),
      integer("fluxen.usage.cached_input_tokens", usage.cachedInputTokens),
      integer("fluxen.usage.cache_write_tokens", usage.cacheWriteTokens),
      integer("fluxen.usage.reasoning_tokens", usage.reasoningTokens),
      flag("fluxen.usage.estimated", span.usageEstimated)
    )
  }
  if (span.costUsd !== null) attributes.push(double("fluxen.cost_usd", span.costUsd))
  if (span.cacheStatus !== undefined) attributes.push(text("fluxen.cache_status", span.cacheStatus))
  if (span.keyId !== null) attributes.push(text("fluxen.key_id", span.keyId))
  if (span.team !== null) attributes.push(text("fluxen.team", span.team))
  return attributes
}

/** Encodes one span. A span without a parent starts a trace, and gets a new trace id here. */
export const encodeSpan = (span: FinishedSpan) => {
  const parent = span.parent
  const errorType = errorTypeOf(span)
  return {
    traceId: parent?.traceId ?? newTraceId(),
    spanId: newSpanId(),
    ...(parent === undefined ? {} : { parentSpanId: parent.spanId }),
    ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
    name: spanName(span),
    kind: SPAN_KIND_SERVER,
    startTimeUnixNano: toUnixNanos(span.startMs),
    endTimeUnixNano: toUnixNanos(span.endMs),
    attributes: spanAttributes(span),
    status: errorType === undefined ? { code: STATUS_UNSET } : { code: STATUS_ERROR, message: errorType }
  }
}

/** Encodes a batch of spans as the JSON body of one export request. */
export const encodeExportRequest = (spans: ReadonlyArray<FinishedSpan>, serviceName: string): string =>
  JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [text("service.name", serviceName)] },
        scopeSpans: [{ scope: { name: SCOPE_NAME, version: SCOPE_VERSION }, spans: spans.map(encodeSpan) }]
      }
    ]
  })
