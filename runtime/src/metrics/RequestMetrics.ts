/**
 * Counters of finished requests, updated from each usage record as it is
 * handed to the usage writer. `observe` runs on the request path, so it does
 * a few map lookups and additions and runs no Effect.
 */
import { nullGroupLabel } from "../usage/usageTotals.js"
import type { UsageRecord } from "../usage/UsageRecord.js"
import { Histogram } from "./Histogram.js"
import { renderLabels, type ExpositionWriter } from "./PrometheusText.js"

export interface RequestMetricsOptions {
  /**
   * Distinct `model` label values kept before further models are counted
   * under `other`. Default 500.
   */
  readonly maxModels?: number
  /** Model names longer than this many characters are counted under `other`. Default 200. */
  readonly maxModelLength?: number
  /**
   * Whether the gateway routes a model name, for requests that failed before
   * routing. Names it rejects are counted under {@link unknownModelLabel},
   * and so are all such names when it is absent.
   */
  readonly isRoutable?: (model: string) => boolean
}

/** Label value of the models past the cap. */
export const otherModelLabel = "other"

/**
 * Label value of the requests for a model that the gateway does not route.
 * Clients choose those names, so labelling requests by them would let
 * clients fill the `maxModels` budget and push configured models into `other`.
 */
export const unknownModelLabel = "(unknown)"

/** `error` label values of the upstream failures, keyed by the error tag recorded in `errorType`. */
const upstreamErrorLabels: Readonly<Record<string, string>> = {
  UpstreamHttpError: "http_status",
  UpstreamUnreachableError: "unreachable",
  UpstreamTimeoutError: "timeout",
  UpstreamProtocolError: "invalid_response"
}

/** The token kinds of `fluxen_tokens_total`, in the order of `ModelSeries.tokens`. */
const tokenKinds = ["prompt", "completion", "cached", "cache_write", "reasoning"] as const

/**
 * The `cache` label value of a request: `hit` when the response cache served
 * it (exact or semantic), so no provider was called, else `none`.
 */
type CacheLabel = "hit" | "none"

interface Counted {
  readonly labels: string
  value: number
}

/** Everything counted for one `{provider, model}` pair. */
class ModelSeries {
  /** Requests keyed by endpoint, status and cache label. */
  readonly requests = new Map<string, Counted>()
  /** Token sums in the order of `tokenKinds`, by cache label. `hit` is created by the first cache hit, so models without hits get no `hit` series. */
  readonly tokens: { readonly none: Array<number>; hit: Array<number> | undefined } = { none: [0, 0, 0, 0, 0], hit: undefined }
  /** Sum of the known costs. It stays undefined until a request of the series has one, so an unpriced model never reads as $0. */
  costUsd: number | undefined = undefined
  /** Requests without a known cost, as the usage totals' `unknownCostRequests`. */
  unpricedRequests = 0
  readonly upstreamErrors = new Map<string, Counted>()
  readonly firstByteSeconds = new Histogram()
  readonly durationSeconds = new Histogram()

  constructor(
    readonly provider: string,
    readonly model: string,
    /** The rendered `provider="…",model="…"` pair. */
    readonly labels: string
  ) {}
}

const increment = (counters: Map<string, Counted>, key: string, labels: () => string): void => {
  const counted = counters.get(key)
  if (counted === undefined) {
    counters.set(key, { labels: labels(), value: 1 })
  } else {
    counted.value++
  }
}

const writeTokens = (writer: ExpositionWriter, labels: string, cache: CacheLabel, tokens: ReadonlyArray<number>): void => {
  tokenKinds.forEach((kind, index) => {
    writer.sample("fluxen_tokens_total", `${labels},kind="${kind}",cache="${cache}"`, tokens[index]!)
  })
}

export class RequestMetrics {
  private readonly maxModels: number
  private readonly maxModelLength: number
  private readonly isRoutable: (model: string) => boolean
  private readonly series = new Map<string, ModelSeries>()
  private readonly modelLabels = new Set<string>()
  private readonly cacheHits = { exact: 0, semantic: 0 }
  private costSavedUsd = 0

  constructor(options: RequestMetricsOptions = {}) {
    this.maxModels = options.maxModels ?? 500
    this.maxModelLength = options.maxModelLength ?? 200
    this.isRoutable = options.isRoutable ?? (() => false)
  }

  /** Counts one finished request. */
  observe(record: UsageRecord): void {
    const series = this.seriesOf(record.provider ?? nullGroupLabel, this.modelLabelOf(record))

    const cacheHit = record.cacheStatus === "hit" || record.cacheStatus === "semantic-hit"
    const cache: CacheLabel = cacheHit ? "hit" : "none"
    increment(series.requests, `${record.endpoint} ${record.status} ${cache}`, () =>
      renderLabels({ provider: series.provider, model: series.model, endpoint: record.endpoint, status: record.status, cache })
    )

    const tokens = cacheHit ? (series.tokens.hit ??= [0, 0, 0, 0, 0]) : series.tokens.none
    tokens[0]! += record.promptTokens ?? 0
    tokens[1]! += record.completionTokens ?? 0
    tokens[2]! += record.cachedInputTokens ?? 0
    tokens[3]! += record.cacheWriteTokens ?? 0
    tokens[4]! += record.reasoningTokens ?? 0
    if (record.costUsd !== null) series.costUsd = (series.costUsd ?? 0) + record.costUsd
    else series.unpricedRequests++

    if (record.cacheStatus === "hit") this.cacheHits.exact++
    if (record.cacheStatus === "semantic-hit") this.cacheHits.semantic++
    if (record.costSavedUsd !== null) this.costSavedUsd += record.costSavedUsd

    const upstreamError = record.errorType === null ? undefined : upstreamErrorLabels[record.errorType]
    if (upstreamError !== undefined) {
      increment(series.upstreamErrors, upstreamError, () =>
        renderLabels({ provider: series.provider, model: series.model, error: upstreamError })
      )
    }

    // A cache hit's first byte came from the gateway, not from the provider.
    if (record.firstByteMs !== null && !cacheHit) series.firstByteSeconds.observe(record.firstByteMs / 1000)
    series.durationSeconds.observe(record.totalMs / 1000)
  }

  /** Writes the request, token, cost, cache, upstream error and latency families. */
  write(writer: ExpositionWriter): void {
    const all = [...this.series.values()]

    writer.family(
      "fluxen_requests_total",
      "counter",
      "Finished proxied requests by outcome (ok, error, or cancelled by the client) and cache: hit when the response cache served the request, else none."
    )
    for (const series of all) {
      for (const counted of series.requests.values()) writer.sample("fluxen_requests_total", counted.labels, counted.value)
    }

    writer.family(
      "fluxen_tokens_total",
      "counter",
      "Tokens in the usage records, as reported by the provider or estimated by Fluxen. cache=\"hit\" counts the tokens of responses replayed from the cache, which used no provider tokens."
    )
    for (const series of all) {
      writeTokens(writer, series.labels, "none", series.tokens.none)
      if (series.tokens.hit !== undefined) writeTokens(writer, series.labels, "hit", series.tokens.hit)
    }

    writer.family(
      "fluxen_cost_usd_total",
      "counter",
      "Cost of the requests in US dollars. Requests without a known price add nothing, and a model none of whose requests has a known cost has no sample."
    )
    for (const series of all) {
      if (series.costUsd !== undefined) writer.sample("fluxen_cost_usd_total", series.labels, series.costUsd)
    }

    writer.family(
      "fluxen_unpriced_requests_total",
      "counter",
      "Requests without a known cost, mostly for a model without a price, so fluxen_cost_usd_total leaves them out."
    )
    for (const series of all) {
      if (series.unpricedRequests > 0) writer.sample("fluxen_unpriced_requests_total", series.labels, series.unpricedRequests)
    }

    writer.family("fluxen_cache_hits_total", "counter", "Requests served from the response cache, by exact or semantic match.")
    writer.sample("fluxen_cache_hits_total", 'kind="exact"', this.cacheHits.exact)
    writer.sample("fluxen_cache_hits_total", 'kind="semantic"', this.cacheHits.semantic)

    writer.family("fluxen_cost_saved_usd_total", "counter", "Upstream cost in US dollars avoided by serving responses from the cache.")
    writer.sample("fluxen_cost_saved_usd_total", "", this.costSavedUsd)

    writer.family(
      "fluxen_upstream_errors_total",
      "counter",
      "Requests that failed on the provider: http_status, unreachable, timeout or invalid_response. Retried attempts that later succeeded are not counted."
    )
    for (const series of all) {
      for (const counted of series.upstreamErrors.values()) writer.sample("fluxen_upstream_errors_total", counted.labels, counted.value)
    }

    writer.family(
      "fluxen_upstream_first_byte_seconds",
      "histogram",
      "Seconds from request arrival to the first response byte, for responses from the provider (cache hits excluded)."
    )
    for (const series of all) {
      if (series.firstByteSeconds.count > 0) series.firstByteSeconds.write(writer, "fluxen_upstream_first_byte_seconds", series.labels)
    }

    writer.family("fluxen_request_duration_seconds", "histogram", "Seconds from request arrival to the end of the response.")
    for (const series of all) series.durationSeconds.write(writer, "fluxen_request_duration_seconds", series.labels)
  }

  private modelLabelOf(record: UsageRecord): string {
    const model = record.resolvedModel ?? record.requestedModel
    if (model === "") return nullGroupLabel
    // NOTE: a `provider/model` name routes to any model of a configured provider,
    // so clients still choose the labels of such requests.
    if (record.resolvedModel === null && !this.isRoutable(model)) return unknownModelLabel
    if (this.modelLabels.has(model)) return model
    if (model.length > this.maxModelLength || this.modelLabels.size >= this.maxModels) return otherModelLabel
    this.modelLabels.add(model)
    return model
  }

  private seriesOf(provider: string, model: string): ModelSeries {
    const key = `${provider}\u0000${model}`
    let series = this.series.get(key)
    if (series === undefined) {
      series = new ModelSeries(provider, model, renderLabels({ provider, model }))
      this.series.set(key, series)
    }
    return series
  }
}
