/**
 * The span of one request: started in `beforeRequest`, finished in
 * `afterUsage`. A finished span contains plain values copied from the request
 * context, never the context or the request body, so a queued span keeps no
 * request object alive and carries no prompt or completion text.
 */
import type { Endpoint, RecordedUsage, RequestContext, Usage } from "@fluxen/sdk"
import type { ParentContext } from "./TraceContext.js"

/** The start of a span, recorded by `beforeRequest` and kept in the request's `attributes` until the request ends. */
export class StartedSpan {
  /** The gateway error's tag, set by `afterResponse` when the request failed. */
  errorType: string | undefined = undefined
  /** The model the response names, set by `afterResponse` when Fluxen has it (see `Outcome.responseModel`). */
  responseModel: string | undefined = undefined

  constructor(
    readonly parent: ParentContext | undefined,
    /** Wall-clock start, in epoch milliseconds. */
    readonly startMs: number,
    /** `performance.now()` at the start, for a duration finer than a millisecond. */
    readonly startTick: number
  ) {}
}

export interface FinishedSpan {
  readonly parent: ParentContext | undefined
  /** Start and end in epoch milliseconds, with a fraction. */
  readonly startMs: number
  readonly endMs: number
  readonly requestId: string
  readonly endpoint: Endpoint
  readonly stream: boolean
  /** The model the client sent. */
  readonly requestedModel: string
  /** The model sent upstream, after model mapping and any fallback. */
  readonly upstreamModel: string
  /** The model the response names, such as a dated version of `upstreamModel`. */
  readonly responseModel: string | undefined
  /** The provider instance name (the key under `providers:`). */
  readonly provider: string
  readonly status: RecordedUsage["status"]
  readonly httpStatus: number
  readonly errorType: string | undefined
  readonly usage: Usage | undefined
  readonly usageEstimated: boolean
  /** Cost in USD, or null when the model has no price. */
  readonly costUsd: number | null
  readonly cacheStatus: string | undefined
  readonly keyId: string | null
  readonly team: string | null
}

/** Ends a span with the status, usage and cost passed to `afterUsage`. `endTick` is `performance.now()` at the end. */
export const finishSpan = (started: StartedSpan, context: RequestContext, recorded: RecordedUsage, endTick: number): FinishedSpan => ({
  parent: started.parent,
  startMs: started.startMs,
  endMs: started.startMs + Math.max(0, endTick - started.startTick),
  requestId: context.requestId,
  endpoint: context.endpoint,
  stream: context.stream,
  requestedModel: context.route.requestedModel,
  upstreamModel: context.route.upstreamModel,
  responseModel: started.responseModel,
  provider: context.route.provider,
  status: recorded.status,
  httpStatus: recorded.httpStatus,
  errorType: started.errorType,
  usage: recorded.usage,
  usageEstimated: recorded.estimated,
  costUsd: recorded.costUsd,
  cacheStatus: context.record.cacheStatus,
  keyId: context.caller.keyId,
  team: context.caller.team
})
