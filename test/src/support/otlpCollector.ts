/**
 * Reading what a replaying upstream, playing an OTLP/HTTP collector,
 * received from the `@fluxen/otel` plugin: the spans of its JSON export
 * requests and their attributes.
 */
import type { ReplayUpstream } from "./replayUpstream.js"

export interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: string
  readonly doubleValue?: number
  readonly boolValue?: boolean
}

export interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly traceState?: string
  readonly name: string
  readonly kind: number
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
  readonly status: { readonly code: number; readonly message?: string }
}

export interface ExportRequest {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

/** Returns a span's attributes as a key-value object, with each value as written in its OTLP JSON field. */
export const attributesOf = (span: OtlpSpan): Record<string, unknown> =>
  Object.fromEntries(span.attributes.map(({ key, value }) => [key, Object.values(value)[0]]))

/** Returns every span the collector received, in the order of the export requests. */
export const spansIn = (collector: ReplayUpstream): Array<OtlpSpan> =>
  collector.requests.flatMap((request) =>
    (request.json as ExportRequest).resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans))
  )

/** Waits until the collector received the span of request `requestId`. */
export const waitForSpan = async (collector: ReplayUpstream, requestId: string, timeoutMs = 5_000): Promise<OtlpSpan> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const span = spansIn(collector).find((candidate) => attributesOf(candidate)["fluxen.request_id"] === requestId)
    if (span !== undefined) return span
    if (performance.now() > deadline) throw new Error(`The collector received no span for request ${requestId} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
