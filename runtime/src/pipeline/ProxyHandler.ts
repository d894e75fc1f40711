/**
 * The request pipeline of the proxied routes:
 *
 *   read body -> parse and validate -> resolve model -> beforeRequest hooks
 *   -> provider call (unless a hook answered) -> respond or relay the stream
 *   -> afterResponse hooks -> usage record
 *
 * Each request runs as one fiber. A client that disconnects interrupts it:
 * the upstream request is aborted at once, and the usage seen so far is
 * recorded with status `cancelled`. Hooks and the usage record run when the
 * fiber ends, whatever the outcome.
 */
import {
  InvalidRequestError,
  ModelNotFoundError,
  isGatewayError,
  PayloadTooLargeError,
  UpstreamProtocolError,
  type CanonicalRequest,
  type GatewayError,
  type ProviderResult,
  type RecordedUsage,
  type RequestContext
} from "@fluxen/sdk"
import { Cause, Effect, Exit, FiberId, Runtime } from "effect"
import { randomUUID } from "node:crypto"
import { anthropicErrorEventText, toAnthropicErrorBody } from "../http/anthropicErrorResponse.js"
import { errorEventText, errorResponse, internalErrorResponse, type ErrorResponse } from "../http/errorResponse.js"
import type { Exchange } from "../http/Exchange.js"
import type { HookChain } from "../plugins/HookChain.js"
import { callWithRouting } from "../routing/callWithRouting.js"
import type { Deployment, ModelRouter } from "../routing/ModelRouter.js"
import { orderDeployments } from "../routing/orderDeployments.js"
import type { UsageRecord } from "../usage/UsageRecord.js"
import type { EndpointSpec } from "./endpoints.js"
import { decodeRequest, parseJsonBody } from "./parseRequest.js"
import { relayStream } from "./relayStream.js"
import { RequestState } from "./RequestState.js"

export interface ProxyDependencies {
  readonly router: ModelRouter
  readonly hooks: HookChain
  readonly recordUsage: (record: UsageRecord) => void
  readonly bodyLimitBytes: number
  readonly runtime: Runtime.Runtime<never>
  readonly inflight: InflightRequests
}

/** Counts running requests so that shutdown can wait for them. */
export class InflightRequests {
  private count = 0
  private waiters: Array<() => void> = []

  get size(): number {
    return this.count
  }

  enter(): void {
    this.count++
  }

  leave(): void {
    this.count--
    if (this.count === 0) {
      for (const resolve of this.waiters.splice(0)) resolve()
    }
  }

  /** Resolves when no request is running. */
  drained(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve))
  }
}

const jsonHeaders = (requestId: string): Record<string, string> => ({
  "content-type": "application/json",
  "x-fluxen-request-id": requestId
})

const readBody = (exchange: Exchange, limitBytes: number) =>
  Effect.tryPromise({
    try: () => exchange.readBody(limitBytes),
    catch: (cause) =>
      cause instanceof PayloadTooLargeError
        ? cause
        : new InvalidRequestError({ message: "The request body could not be read completely.", code: "invalid_body" })
  })

const toGatewayError = (provider: string) => (cause: unknown): GatewayError =>
  isGatewayError(cause)
    ? cause
    : new UpstreamProtocolError({ provider, message: `Relaying the stream failed: ${String(cause)}` })

const routeOf = (requestedModel: string, deployment: Deployment) => ({
  requestedModel,
  provider: deployment.provider,
  upstreamModel: deployment.upstreamModel
})

const makeContext = (
  state: RequestState,
  exchange: Exchange,
  request: CanonicalRequest,
  requestedModel: string,
  deployment: Deployment
): RequestContext => ({
  requestId: state.requestId,
  endpoint: state.endpoint,
  stream: state.stream,
  startedAt: state.startedAt,
  headers: exchange.headers,
  request,
  route: routeOf(requestedModel, deployment),
  caller: { keyId: null, team: null, metadata: {} },
  record: {},
  responseHeaders: {},
  attributes: new Map()
})

export const makeProxyHandler = (dependencies: ProxyDependencies) => {
  const { router, hooks, bodyLimitBytes } = dependencies
  const runFork = Runtime.runFork(dependencies.runtime)

  const sendError = (exchange: Exchange, state: RequestState, spec: EndpointSpec, response: ErrorResponse) => {
    const anthropic = spec.errorShape === "anthropic"
    // A stream that fails after its headers went out keeps the status the client received.
    if (exchange.headersSent()) {
      if (state.progress?.errorEventSent !== true) exchange.write(anthropic ? anthropicErrorEventText(response) : errorEventText(response))
      exchange.end()
      return
    }
    state.httpStatus = response.status
    const body = anthropic ? toAnthropicErrorBody(response) : response.body
    exchange.send(response.status, { ...response.headers, ...jsonHeaders(state.requestId), ...state.context?.responseHeaders }, JSON.stringify(body))
  }

  const respond = (
    exchange: Exchange,
    state: RequestState,
    result: ProviderResult,
    signal: AbortSignal
  ): Effect.Effect<void, GatewayError> => {
    const context = state.context!
    if (result._tag === "Json") {
      state.usage = result.usage
      state.response = result.body
      state.httpStatus = result.status
      state.firstByteAt = performance.now()
      exchange.send(
        result.status,
        { ...result.headers, ...jsonHeaders(state.requestId), ...context.responseHeaders },
        result.bytes ?? JSON.stringify(result.body)
      )
      return Effect.void
    }
    state.httpStatus = result.status
    const progress = state.startStream(hooks.needsAssembledStream && state.endpoint === "chat")
    const includeUsage = (context.request as { stream_options?: { include_usage?: boolean } | null }).stream_options?.include_usage === true
    const headers = {
      ...result.headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-fluxen-request-id": state.requestId,
      ...context.responseHeaders
    }
    return Effect.tryPromise({
      try: () => relayStream(result, exchange, { endpoint: state.endpoint, includeUsage, headers, signal }, progress),
      catch: toGatewayError(context.route.provider)
    })
  }

  const pipeline = (exchange: Exchange, spec: EndpointSpec, state: RequestState, signal: AbortSignal) =>
    Effect.gen(function* () {
      const bytes = yield* readBody(exchange, bodyLimitBytes)
      const json = (yield* parseJsonBody(bytes)) as { model?: unknown }
      if (typeof json.model === "string") state.requestedModel = json.model
      const request = (yield* decodeRequest(spec.schema, json)) as CanonicalRequest
      let plan = yield* router.resolve(request.model)
      let order = orderDeployments(plan, router.health, Date.now())
      let first = order[0]
      if (first === undefined) return yield* new ModelNotFoundError({ model: request.model })
      state.stream = spec.endpoint !== "embeddings" && (request as { stream?: boolean | null }).stream === true
      const context = makeContext(state, exchange, request, plan.requestedModel, first)
      state.context = context

      // A hook that changes the model (a routing rule) re-routes the request before the next hook runs.
      const reroute = (model: string) =>
        Effect.gen(function* () {
          plan = yield* router.resolve(model)
          order = orderDeployments(plan, router.health, Date.now())
          const next = order[0]
          if (next === undefined) return yield* new ModelNotFoundError({ model })
          first = next
          context.route = routeOf(request.model, next)
        })
      const decision = yield* hooks.runBefore(context, state.hookProgress, reroute)
      let result: ProviderResult
      if (decision !== undefined) {
        state.answeredByHook = true
        result = decision.respond
      } else {
        const invoke = (deployment: Deployment) =>
          spec.invoke(
            deployment.adapter,
            deployment.provider,
            context.request,
            {
              requestId: state.requestId,
              upstreamModel: deployment.upstreamModel,
              signal,
              idleTimeoutMs: deployment.idleTimeoutMs,
              clientHeaders: exchange.headers
            },
            state.stream
          )
        const routed = yield* callWithRouting(router, plan, order, invoke, state.requestId)
        if (routed.deployment !== first) context.route = routeOf(request.model, routed.deployment)
        result = routed.result
      }
      yield* respond(exchange, state, result, signal)
    })

  const finish = (state: RequestState, exit: Exit.Exit<void>) =>
    Effect.suspend(() => {
      let status: "ok" | "error" | "cancelled" = state.error === undefined && state.httpStatus < 400 ? "ok" : "error"
      if (Exit.isInterrupted(exit)) {
        status = "cancelled"
        state.httpStatus = 499
      }
      const outcome = state.outcome(status)
      const context = state.context
      if (context === undefined) {
        dependencies.recordUsage(state.toRecord(outcome, performance.now()))
        return Effect.void
      }
      const ran = state.hookProgress.ran
      return hooks.runAfter(context, outcome, ran).pipe(
        Effect.flatMap(() => {
          const record = state.toRecord(outcome, performance.now())
          const recorded: RecordedUsage = {
            status: record.status,
            httpStatus: record.httpStatus,
            usage: outcome.usage ?? context.record.estimatedUsage,
            estimated: record.usageEstimated,
            costUsd: record.costUsd
          }
          return Effect.as(hooks.runAfterUsage(context, recorded, ran), record)
        }),
        Effect.map((record) => dependencies.recordUsage(record))
      )
    })

  /** Handles one request on a proxied route; returns at once, the work runs in a fiber. */
  return (exchange: Exchange, spec: EndpointSpec): void => {
    const state = new RequestState(randomUUID(), spec.endpoint, Date.now(), performance.now())
    const controller = new AbortController()

    const program = pipeline(exchange, spec, state, controller.signal).pipe(
      Effect.catchAll((error) =>
        Effect.sync(() => {
          state.error = error
          sendError(exchange, state, spec, errorResponse(error))
        })
      ),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.zipRight(
              Effect.logError("Request failed unexpectedly", cause).pipe(Effect.annotateLogs("request.id", state.requestId)),
              Effect.sync(() => sendError(exchange, state, spec, internalErrorResponse(state.requestId)))
            )
      ),
      Effect.onExit((exit) => finish(state, exit)),
      Effect.ensuring(Effect.sync(() => dependencies.inflight.leave()))
    )

    dependencies.inflight.enter()
    const fiber = runFork(program)
    exchange.clientGone.addEventListener(
      "abort",
      () => {
        controller.abort()
        fiber.unsafeInterruptAsFork(FiberId.none)
      },
      { once: true }
    )
  }
}
