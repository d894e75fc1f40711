/**
 * What the pipeline learns about one request as it goes, and the usage
 * record and hook outcome made from it when the request ends.
 */
import type { Endpoint, GatewayError, JsonResult, Outcome, RecordFields, RequestContext, Usage } from "@fluxen/sdk"
import type { UsageRecord } from "../usage/UsageRecord.js"
import { makeStreamProgress, type StreamProgress } from "./relayStream.js"
import { JsonOutcome, StreamOutcome, type OutcomeFieldValues } from "./RequestOutcome.js"

/** Returns the chat completion of a completed stream: the result's own, or the one assembled from its events. */
const completedResponse = (progress: StreamProgress): unknown => {
  const assembled = progress.assembler
  if (assembled === undefined) return progress.completed ? progress.completion : undefined
  return assembled.isComplete() ? assembled.toCompletion() : undefined
}

/**
 * Returns the usage a request is recorded with: the provider's, unless a plugin estimated a
 * usage because the provider reported none or the stream stopped short of its final counts.
 */
export const recordedUsageOf = (outcome: Outcome, fields: RecordFields | undefined): Usage | undefined => {
  const estimated = fields?.estimatedUsage
  if (outcome.usage === undefined) return estimated
  return estimated !== undefined && outcome.status !== "ok" ? estimated : outcome.usage
}

export class RequestState {
  requestedModel: string | null = null
  context: RequestContext | undefined = undefined
  stream = false
  /** How many plugins had their `beforeRequest` run. */
  readonly hookProgress = { ran: 0 }
  answeredByHook = false
  /** The provider and model of the last upstream call made, which after a fallback may differ from `context.route`. */
  lastAttempt: { readonly provider: string; readonly upstreamModel: string } | undefined = undefined
  /** Upstream calls made, counting retries and fallbacks. */
  upstreamAttempts = 0
  /** Whether an upstream call returned a success response (see `Outcome.upstreamResponded`). */
  upstreamResponded = false
  httpStatus = 200
  error: GatewayError | undefined = undefined
  /** Usage of a JSON response; streams keep theirs in `progress`. */
  usage: Usage | undefined = undefined
  /** The JSON result. Its body is parsed only if a hook reads the outcome's `response`. */
  jsonResult: JsonResult | undefined = undefined
  firstByteAt: number | undefined = undefined
  progress: StreamProgress | undefined = undefined

  constructor(
    readonly requestId: string,
    readonly endpoint: Endpoint,
    readonly startedAt: number,
    /** `performance.now()` at arrival, for latencies. */
    readonly startedTick: number
  ) {}

  startStream(assemble: boolean, completion?: unknown): StreamProgress {
    this.progress = makeStreamProgress(assemble, completion)
    return this.progress
  }

  outcome(status: Outcome["status"]): Outcome {
    const progress = this.progress
    if (progress === undefined) {
      return new JsonOutcome([status, this.httpStatus, this.usage, this.error, this.answeredByHook, this.upstreamResponded], this.jsonResult)
    }
    const fields: OutcomeFieldValues = [status, this.httpStatus, progress.usage ?? this.usage, this.error, this.answeredByHook, this.upstreamResponded]
    return new StreamOutcome(fields, completedResponse(progress), this.endpoint, progress)
  }

  toRecord(outcome: Outcome, endedTick: number): UsageRecord {
    const context = this.context
    const fields = context?.record
    const usage = recordedUsageOf(outcome, fields)
    const firstByteAt = this.progress?.firstByteAt ?? this.firstByteAt
    return {
      requestId: this.requestId,
      createdAt: new Date(this.startedAt),
      keyId: context?.caller.keyId ?? null,
      team: context?.caller.team ?? null,
      requestedModel: this.requestedModel ?? "",
      resolvedModel: context?.route.upstreamModel ?? null,
      provider: context?.route.provider ?? null,
      endpoint: this.endpoint,
      status: outcome.status,
      httpStatus: outcome.httpStatus,
      stream: this.stream,
      promptTokens: usage?.promptTokens ?? null,
      completionTokens: usage?.completionTokens ?? null,
      cachedInputTokens: usage?.cachedInputTokens ?? null,
      cacheWriteTokens: usage?.cacheWriteTokens ?? null,
      // A usage without the lifetime split has no 1-hour writes, but an unknown usage stays unknown.
      cacheWrite1hTokens: usage === undefined ? null : (usage.cacheWrite1hTokens ?? 0),
      reasoningTokens: usage?.reasoningTokens ?? null,
      usageEstimated: usage !== undefined && usage !== outcome.usage,
      // A request without a provider's success response (rejected, invalid, served by a hook, failed
      // upstream, or left before the response headers) is recorded as costing nothing, without a
      // price. That follows the providers' usual billing practice, which no provider promises.
      costUsd: fields?.costUsd ?? (this.upstreamResponded ? null : 0),
      priceVersion: fields?.priceVersion ?? null,
      cacheStatus: fields?.cacheStatus ?? null,
      costSavedUsd: fields?.costSavedUsd ?? null,
      cacheSimilarity: fields?.cacheSimilarity ?? null,
      firstByteMs: firstByteAt === undefined ? null : Math.round((firstByteAt - this.startedTick) * 100) / 100,
      totalMs: Math.round((endedTick - this.startedTick) * 100) / 100,
      errorType: outcome.error?._tag ?? null,
      metadata: context && Object.keys(context.caller.metadata).length > 0 ? { ...context.caller.metadata } : null
    }
  }
}
