/**
 * The request hooks that make one span per request.
 *
 * `beforeRequest` reads the client's `traceparent`, decides sampling and
 * records the start time. `afterResponse` records the gateway error of a
 * failed request and the model the response names. `afterUsage` ends the span with the status, usage and cost
 * about to be recorded, and queues it. Each hook does its work in the function
 * body and returns a completed effect, so the host runs it without a fiber,
 * and none of them waits: the export happens in the background.
 *
 * List the plugin first under `plugins:`, so that its span also covers
 * requests that a later plugin serves (a cache hit) or rejects (a budget).
 */
import type { HookDecision, RequestContext, RequestHooks } from "@fluxen/sdk"
import { Effect } from "effect"
import { finishSpan, StartedSpan, type FinishedSpan } from "./RequestSpan.js"
import { isSampled } from "./Sampler.js"
import type { SpanQueue } from "./SpanQueue.js"
import { parseTraceParent } from "./TraceContext.js"

export interface SpanHooksOptions {
  /** The plugin instance name, which keys the started span in `context.attributes`. */
  readonly pluginName: string
  readonly sampleRatio: number
  readonly queue: SpanQueue<FinishedSpan>
  /** Returns a number in [0, 1) for sampling. Default `Math.random`. */
  readonly random?: () => number
}

/** Returns the `context.attributes` key under which an instance keeps a request's started span. */
export const spanAttributeKey = (pluginName: string): string => `@fluxen/otel/span/${pluginName}`

const proceed: Effect.Effect<HookDecision> = Effect.succeed(undefined)

/** Builds the hooks of one plugin instance. */
export const makeSpanHooks = (options: SpanHooksOptions): RequestHooks => {
  const { queue, sampleRatio } = options
  const random = options.random ?? Math.random
  const key = spanAttributeKey(options.pluginName)

  const startedSpanOf = (context: RequestContext): StartedSpan | undefined => context.attributes.get(key) as StartedSpan | undefined

  return {
    beforeRequest: (context) => {
      const traceparent = context.headers.get("traceparent")
      const parent = traceparent === undefined ? undefined : parseTraceParent(traceparent, context.headers.get("tracestate"))
      if (isSampled(parent, sampleRatio, random)) {
        context.attributes.set(key, new StartedSpan(parent, Date.now(), performance.now()))
      }
      return proceed
    },

    afterResponse: (context, outcome) => {
      const started = startedSpanOf(context)
      if (started === undefined) return Effect.void
      if (outcome.error !== undefined) started.errorType = outcome.error._tag
      // Read here, after the hooks of the plugins listed later, so a body that one of them parsed gives its model.
      started.responseModel = outcome.responseModel
      return Effect.void
    },

    afterUsage: (context, recorded) => {
      const started = startedSpanOf(context)
      if (started !== undefined) queue.offer(finishSpan(started, context, recorded, performance.now()))
      return Effect.void
    }
  }
}
