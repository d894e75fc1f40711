import { describe, expect, it } from "vitest"
import type { UsageRecord } from "../usage/UsageRecord.js"
import { Histogram } from "./Histogram.js"
import { escapeLabelValue, ExpositionWriter, formatSampleValue } from "./PrometheusText.js"
import { RequestMetrics } from "./RequestMetrics.js"

const baseRecord: UsageRecord = {
  requestId: "r",
  createdAt: new Date(0),
  keyId: null,
  team: null,
  requestedModel: "alias",
  resolvedModel: "model-a",
  provider: "openai",
  endpoint: "chat",
  status: "ok",
  httpStatus: 200,
  stream: false,
  promptTokens: 10,
  completionTokens: 5,
  cachedInputTokens: null,
  cacheWriteTokens: null,
  reasoningTokens: null,
  usageEstimated: false,
  costUsd: 0.25,
  priceVersion: null,
  cacheStatus: null,
  costSavedUsd: null,
  cacheSimilarity: null,
  firstByteMs: 40,
  totalMs: 120,
  errorType: null,
  metadata: null
}

const render = (metrics: RequestMetrics): string => {
  const writer = new ExpositionWriter()
  metrics.write(writer)
  return writer.toString()
}

describe("escapeLabelValue", () => {
  it("escapes backslash, quote and line feed", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd')
  })

  it("leaves other characters alone", () => {
    expect(escapeLabelValue("gpt-4o/mini:latest é\t")).toBe("gpt-4o/mini:latest é\t")
  })
})

describe("formatSampleValue", () => {
  it.each([
    [0, "0"],
    [12, "12"],
    [0.000125, "0.000125"],
    [Number.POSITIVE_INFINITY, "+Inf"],
    [Number.NEGATIVE_INFINITY, "-Inf"],
    [Number.NaN, "NaN"]
  ])("formats %s as %s", (value, text) => {
    expect(formatSampleValue(value)).toBe(text)
  })
})

describe("Histogram", () => {
  it("writes cumulative buckets, sum and count", () => {
    const histogram = new Histogram([1, 5])
    for (const value of [0.5, 1, 3, 7]) histogram.observe(value)
    const writer = new ExpositionWriter()
    histogram.write(writer, "h", 'a="b"')
    expect(writer.toString()).toBe(
      ['h_bucket{a="b",le="1"} 2', 'h_bucket{a="b",le="5"} 3', 'h_bucket{a="b",le="+Inf"} 4', 'h_sum{a="b"} 11.5', 'h_count{a="b"} 4', ""].join(
        "\n"
      )
    )
  })
})

describe("RequestMetrics", () => {
  it("caps distinct model labels and counts the rest as other", () => {
    const metrics = new RequestMetrics({ maxModels: 2 })
    for (const model of ["model-a", "model-b", "model-c", "model-d", "model-a"]) {
      metrics.observe({ ...baseRecord, resolvedModel: model })
    }
    const text = render(metrics)
    expect(text).toContain('fluxen_requests_total{provider="openai",model="model-a",endpoint="chat",status="ok",cache="none"} 2')
    expect(text).toContain('fluxen_requests_total{provider="openai",model="model-b",endpoint="chat",status="ok",cache="none"} 1')
    expect(text).toContain('fluxen_requests_total{provider="openai",model="other",endpoint="chat",status="ok",cache="none"} 2')
    expect(text).not.toContain("model-c")
  })

  it("counts an overlong model name as other", () => {
    const metrics = new RequestMetrics({ maxModelLength: 8, isRoutable: () => true })
    metrics.observe({ ...baseRecord, resolvedModel: null, provider: null, requestedModel: "x".repeat(9) })
    expect(render(metrics)).toContain('fluxen_requests_total{provider="(none)",model="other",endpoint="chat",status="ok",cache="none"} 1')
  })

  it("labels unroutable models as (unknown)", () => {
    const metrics = new RequestMetrics({ maxModels: 2, isRoutable: (model) => model === "alias" })
    const unrouted = { ...baseRecord, resolvedModel: null, provider: null, status: "error", costUsd: 0 } as const
    for (let i = 0; i < 5; i++) metrics.observe({ ...unrouted, requestedModel: `junk-${i}`, errorType: "ModelNotFoundError" })
    // An invalid body fails before routing too, with any name the client chose.
    metrics.observe({ ...unrouted, requestedModel: "junk-invalid", errorType: "InvalidRequestError" })
    metrics.observe({ ...unrouted, requestedModel: "alias", errorType: "InvalidRequestError" })
    metrics.observe(baseRecord)

    const text = render(metrics)

    expect(text).toContain('fluxen_requests_total{provider="(none)",model="(unknown)",endpoint="chat",status="error",cache="none"} 6')
    expect(text).toContain('fluxen_requests_total{provider="(none)",model="alias",endpoint="chat",status="error",cache="none"} 1')
    expect(text).toContain('fluxen_requests_total{provider="openai",model="model-a",endpoint="chat",status="ok",cache="none"} 1')
    expect(text).not.toContain("junk")
    expect(text).not.toContain('model="other"')
  })

  it("labels a request without a model or provider as (none)", () => {
    const metrics = new RequestMetrics()
    metrics.observe({ ...baseRecord, requestedModel: "", resolvedModel: null, provider: null, status: "error", errorType: "InvalidRequestError" })
    const text = render(metrics)
    expect(text).toContain('fluxen_requests_total{provider="(none)",model="(none)",endpoint="chat",status="error",cache="none"} 1')
    expect(text).not.toContain('fluxen_upstream_errors_total{')
  })

  it("adds tokens, cost and cache savings", () => {
    const metrics = new RequestMetrics()
    metrics.observe(baseRecord)
    metrics.observe({ ...baseRecord, cacheStatus: "hit", costUsd: 0, costSavedUsd: 0.25, cachedInputTokens: 3, firstByteMs: 2 })
    metrics.observe({ ...baseRecord, cacheStatus: "semantic-hit", costUsd: null, costSavedUsd: null, promptTokens: null })
    const text = render(metrics)
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="prompt",cache="none"} 10')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="completion",cache="none"} 5')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="cached",cache="none"} 0')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="prompt",cache="hit"} 10')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="completion",cache="hit"} 10')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="cached",cache="hit"} 3')
    expect(text).toContain('fluxen_cost_usd_total{provider="openai",model="model-a"} 0.25')
    expect(text).toContain('fluxen_cache_hits_total{kind="exact"} 1')
    expect(text).toContain('fluxen_cache_hits_total{kind="semantic"} 1')
    expect(text).toContain("fluxen_cost_saved_usd_total 0.25")
    // The exact hit's first byte came from the cache, and the semantic hit's too: one provider first byte remains.
    expect(text).toContain('fluxen_upstream_first_byte_seconds_count{provider="openai",model="model-a"} 1')
    expect(text).toContain('fluxen_request_duration_seconds_count{provider="openai",model="model-a"} 3')
  })

  it("reports unpriced models as unpriced", () => {
    const metrics = new RequestMetrics()
    metrics.observe({ ...baseRecord, resolvedModel: "unpriced", costUsd: null })
    metrics.observe({ ...baseRecord, resolvedModel: "unpriced", costUsd: null, status: "cancelled" })
    metrics.observe({ ...baseRecord, resolvedModel: "priced", costUsd: 0.5 })
    metrics.observe({ ...baseRecord, resolvedModel: "priced", costUsd: null })
    // A request without a provider's success response costs 0, so its cost is known.
    metrics.observe({ ...baseRecord, resolvedModel: "rejected", costUsd: 0, status: "error", errorType: "UpstreamHttpError" })
    const text = render(metrics)
    expect(text).not.toContain('fluxen_cost_usd_total{provider="openai",model="unpriced"}')
    expect(text).toContain('fluxen_unpriced_requests_total{provider="openai",model="unpriced"} 2')
    expect(text).toContain('fluxen_cost_usd_total{provider="openai",model="priced"} 0.5')
    expect(text).toContain('fluxen_unpriced_requests_total{provider="openai",model="priced"} 1')
    expect(text).toContain('fluxen_cost_usd_total{provider="openai",model="rejected"} 0')
    expect(text).not.toContain('fluxen_unpriced_requests_total{provider="openai",model="rejected"}')
  })

  it("labels cache hits apart", () => {
    const metrics = new RequestMetrics()
    metrics.observe({ ...baseRecord, cacheStatus: "miss" })
    metrics.observe({ ...baseRecord, cacheStatus: "bypass" })
    metrics.observe({ ...baseRecord, cacheStatus: "hit" })
    metrics.observe({ ...baseRecord, cacheStatus: "semantic-hit" })
    const text = render(metrics)
    expect(text).toContain('fluxen_requests_total{provider="openai",model="model-a",endpoint="chat",status="ok",cache="none"} 2')
    expect(text).toContain('fluxen_requests_total{provider="openai",model="model-a",endpoint="chat",status="ok",cache="hit"} 2')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="prompt",cache="none"} 20')
    expect(text).toContain('fluxen_tokens_total{provider="openai",model="model-a",kind="prompt",cache="hit"} 20')
  })

  it("writes no hit tokens without hits", () => {
    const metrics = new RequestMetrics()
    metrics.observe(baseRecord)
    expect(render(metrics)).not.toMatch(/^fluxen_tokens_total\{.*cache="hit"/m)
  })

  it("maps upstream error tags to short error labels", () => {
    const metrics = new RequestMetrics()
    for (const errorType of ["UpstreamHttpError", "UpstreamUnreachableError", "UpstreamTimeoutError", "UpstreamProtocolError", "UpstreamTimeoutError"]) {
      metrics.observe({ ...baseRecord, status: "error", errorType })
    }
    const text = render(metrics)
    expect(text).toContain('fluxen_upstream_errors_total{provider="openai",model="model-a",error="http_status"} 1')
    expect(text).toContain('fluxen_upstream_errors_total{provider="openai",model="model-a",error="unreachable"} 1')
    expect(text).toContain('fluxen_upstream_errors_total{provider="openai",model="model-a",error="timeout"} 2')
    expect(text).toContain('fluxen_upstream_errors_total{provider="openai",model="model-a",error="invalid_response"} 1')
  })
})
