import { describe, expect, it } from "vitest"
import { encodeExportRequest, spanAttributes, spanName, toUnixNanos, type KeyValue } from "./OtlpJson.js"
import type { FinishedSpan } from "./RequestSpan.js"

const baseSpan: FinishedSpan = {
  parent: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true, traceState: "congo=t61rcWkgMzE" },
  startMs: 1_700_000_000_000.25,
  endMs: 1_700_000_000_250.5,
  requestId: "request-1",
  endpoint: "chat",
  stream: true,
  requestedModel: "gpt-4o-mini",
  upstreamModel: "gpt-4o-mini",
  responseModel: "gpt-4o-mini-2024-07-18",
  provider: "openai",
  status: "ok",
  httpStatus: 200,
  errorType: undefined,
  usage: { promptTokens: 12, completionTokens: 7, cachedInputTokens: 4, cacheWriteTokens: 0, reasoningTokens: 2 },
  usageEstimated: false,
  costUsd: 0.000123,
  cacheStatus: "miss",
  keyId: "key_123",
  team: "research"
}

const attributeMap = (attributes: ReadonlyArray<KeyValue>): Record<string, unknown> =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]))

/** Encodes one span and returns its OTLP JSON object. */
const encodeOne = (span: FinishedSpan) => JSON.parse(encodeExportRequest([span], "fluxen-test")).resourceSpans[0].scopeSpans[0].spans[0]

describe("OTLP span encoding", () => {
  it("names spans by operation and model", () => {
    expect(spanName(baseSpan)).toBe("chat gpt-4o-mini")
    expect(spanName({ ...baseSpan, endpoint: "embeddings", requestedModel: "text-embedding-3-small" })).toBe("embeddings text-embedding-3-small")
    expect(spanName({ ...baseSpan, endpoint: "completions" })).toBe("text_completion gpt-4o-mini")
  })

  it("sets the GenAI and Fluxen attributes", () => {
    expect(attributeMap(spanAttributes(baseSpan))).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.system": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
      "gen_ai.usage.input_tokens": "12",
      "gen_ai.usage.output_tokens": "7",
      "http.response.status_code": "200",
      "fluxen.request_id": "request-1",
      "fluxen.endpoint": "chat",
      "fluxen.stream": true,
      "fluxen.status": "ok",
      "fluxen.upstream_model": "gpt-4o-mini",
      "fluxen.usage.cached_input_tokens": "4",
      "fluxen.usage.cache_write_tokens": "0",
      "fluxen.usage.reasoning_tokens": "2",
      "fluxen.usage.estimated": false,
      "fluxen.cost_usd": 0.000123,
      "fluxen.cache_status": "miss",
      "fluxen.key_id": "key_123",
      "fluxen.team": "research"
    })
  })

  it("leaves out unknown values", () => {
    const attributes = attributeMap(
      spanAttributes({ ...baseSpan, responseModel: undefined, usage: undefined, costUsd: null, cacheStatus: undefined, keyId: null, team: null })
    )

    for (const key of ["gen_ai.response.model", "gen_ai.usage.input_tokens", "fluxen.usage.estimated", "fluxen.cost_usd", "fluxen.cache_status", "fluxen.key_id", "fluxen.team"]) {
      expect(attributes, key).not.toHaveProperty(key)
    }
  })

  it("writes the parent and trace state", () => {
    const span = encodeOne(baseSpan)

    expect(span.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
    expect(span.parentSpanId).toBe("00f067aa0ba902b7")
    expect(span.traceState).toBe("congo=t61rcWkgMzE")
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(span.spanId).not.toBe("00f067aa0ba902b7")
    expect(span.kind).toBe(2)
  })

  it("starts a trace without a parent", () => {
    const span = encodeOne({ ...baseSpan, parent: undefined })

    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(span).not.toHaveProperty("parentSpanId")
    expect(span).not.toHaveProperty("traceState")
  })

  it("writes times in nanoseconds", () => {
    const span = encodeOne(baseSpan)

    expect(span.startTimeUnixNano).toBe("1700000000000250000")
    expect(span.endTimeUnixNano).toBe("1700000000250500000")
    expect(toUnixNanos(1.0004)).toBe("1000000")
  })

  it("marks failed requests as errors", () => {
    const span = encodeOne({ ...baseSpan, status: "error", httpStatus: 429, errorType: "LimitExceededError" })

    expect(span.status).toEqual({ code: 2, message: "LimitExceededError" })
    expect(attributeMap(span.attributes)["error.type"]).toBe("LimitExceededError")
  })

  it("falls back to the HTTP status", () => {
    const span = encodeOne({ ...baseSpan, status: "error", httpStatus: 502 })

    expect(attributeMap(span.attributes)["error.type"]).toBe("502")
  })

  it("leaves a cancelled request unset", () => {
    const span = encodeOne({ ...baseSpan, status: "cancelled", httpStatus: 499 })

    expect(span.status).toEqual({ code: 0 })
    expect(attributeMap(span.attributes)).not.toHaveProperty("error.type")
  })

  it("names the service and scope", () => {
    const body = JSON.parse(encodeExportRequest([baseSpan], "fluxen-test"))

    expect(body.resourceSpans[0].resource.attributes).toEqual([{ key: "service.name", value: { stringValue: "fluxen-test" } }])
    expect(body.resourceSpans[0].scopeSpans[0].scope.name).toBe("@fluxen/otel")
  })
})
