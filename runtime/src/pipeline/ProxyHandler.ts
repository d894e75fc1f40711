/**
 * The request pipeline of the proxied routes:
 *
 *   read body -> parse and validate -> resolve model -> beforeRequest hooks
 *   -> provider call (unless a hook answered) -> respond or relay the stream
 *   -> afterResponse hooks -> usage record
 *
 * The pipeline is plain async code: Effect runs where plugins and providers
 * plug in (hooks, adapter calls), and the steps between them cost no fiber.
 * A hook that finishes without waiting returns at once, and an adapter call
 * made with the SDK's `fromPromise` is awaited as a promise, so a request
 * whose plugins all do so runs no fiber at all.
 *
 * A client that disconnects stops the request: the upstream request is
 * aborted at once, a waiting hook or provider fiber is interrupted, and the
 * usage seen so far is recorded with status `cancelled`. The after hooks and
 * the usage record run when the request ends, whatever the outcome.
 */
import {
  attachCancelNotice,
  ModelNotFoundError,
  isGatewayError,
  UPSTREAM_REQUEST_ID_HEADER,
  UpstreamProtocolError,
  type CanonicalRequest,
  type GatewayError,
  type ProviderResult,
  type RecordedUsage,
  type RequestContext
} from "@fluxen/sdk"
import { Effect, type Either, Runtime } from "effect"
import { anthropicErrorEventText, toAnthropicErrorBody } from "../http/anthropicErrorResponse.js"
import { errorEventText, errorResponse, internalErrorResponse, type ErrorResponse } from "../http/errorResponse.js"
import type { Exchange } from "../http/Exchange.js"
import { requestIdHeaders } from "../http/requestIdHeaders.js"
import { isPromise, type HookChain, type Pending } from "../plugins/HookChain.js"
import { callWithRouting, type RoutedResult, type RoutingEffects } from "../routing/callWithRouting.js"
import type { Deployment, ModelRouter } from "../routing/ModelRouter.js"
import { orderDeployments } from "../routing/orderDeployments.js"
import type { UsageRecord } from "../usage/UsageRecord.js"
import type { EndpointSpec } from "./endpoints.js"
import { makeEffectRunner, sleepUnlessCancelled, squashFailure } from "./EffectRunner.js"
import { ExchangeCallContext } from "./ExchangeCallContext.js"
import { decodeRequest, parseJsonBody } from "./parseRequest.js"
import { newRequestId } from "./requestId.js"
import { relayStream } from "./relayStream.js"
import { recordedUsageOf, RequestState } from "./RequestState.js"

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

const jsonHeaders = (spec: EndpointSpec, requestId: string): Record<string, string> => ({
  "content-type": "application/json",
  ...requestIdHeaders(requestId, spec.errorShape)
})


const errorBody = (spec: EndpointSpec, response: ErrorResponse, requestId: string): unknown =>
  spec.errorShape === "anthropic" ? toAnthropicErrorBody(response, requestId) : response.body

/** Returns the value of a decoding or routing step, or throws its error. */
const valueOf = <A, E>(either: Either.Either<A, E>): A => {
  if (either._tag === "Left") throw either.left
  return either.right
}

const toGatewayError = (provider: string) => (cause: unknown): GatewayError =>
  isGatewayError(cause)
    ? cause
    : new UpstreamProtocolError({ provider, message: `Relaying the stream failed: ${String(cause)}` })

const routeOf = (requestedModel: string, deployment: Pick<Deployment, "provider" | "upstreamModel">) => ({
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
  const runSync = Runtime.runSync(dependencies.runtime)
  const runEffect = makeEffectRunner(dependencies.runtime)
  const log = (level: "Info" | "Warning") => (message: string, annotations: Readonly<Record<string, unknown>>) =>
    runSync((level === "Info" ? Effect.logInfo(message) : Effect.logWarning(message)).pipe(Effect.annotateLogs(annotations)))
  const routingEffects: RoutingEffects = {
    attempt: runEffect,
    sleep: sleepUnlessCancelled,
    logInfo: log("Info"),
    logWarning: log("Warning")
  }

  const sendError = (exchange: Exchange, state: RequestState, spec: EndpointSpec, response: ErrorResponse) => {
    const anthropic = spec.errorShape === "anthropic"
    // A stream that fails after its headers went out keeps the status the client received.
    if (exchange.headersSent()) {
      if (state.progress?.errorEventSent !== true) exchange.write(anthropic ? anthropicErrorEventText(response) : errorEventText(response))
      exchange.end()
      return
    }
    state.httpStatus = response.status
    const body = errorBody(spec, response, state.requestId)
    exchange.send(response.status, { ...response.headers, ...jsonHeaders(spec, state.requestId), ...state.context?.responseHeaders }, JSON.stringify(body))
  }

  const respond = async (exchange: Exchange, spec: EndpointSpec, state: RequestState, result: ProviderResult): Promise<void> => {
    const context = state.context!
    if (result._tag === "Json") {
      state.usage = result.usage
      state.jsonResult = result
      state.httpStatus = result.status
      state.firstByteAt = performance.now()
      const headers: Record<string, string> = {
        ...result.headers,
        "content-type": "application/json",
        "x-fluxen-request-id": state.requestId,
        "x-request-id": state.requestId,
        ...context.responseHeaders
      }
      if (spec.errorShape === "anthropic") headers["request-id"] = state.requestId
      exchange.send(result.status, headers, result.bytes ?? JSON.stringify(result.body))
      return
    }
    state.httpStatus = result.status
    const progress = state.startStream(hooks.needsAssembledStream && state.endpoint === "chat", result.completion)
    const includeUsage = (context.request as { stream_options?: { include_usage?: boolean } | null }).stream_options?.include_usage === true
    const headers: Record<string, string> = {
      ...result.headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-fluxen-request-id": state.requestId,
      "x-request-id": state.requestId,
      ...context.responseHeaders
    }
    if (spec.errorShape === "anthropic") headers["request-id"] = state.requestId
    try {
      await relayStream(result, exchange, { endpoint: state.endpoint, includeUsage, headers, clientLeft: () => exchange.departure.cancelled() }, progress)
    } catch (cause) {
      throw toGatewayError(context.route.provider)(cause)
    }
  }

  const pipeline = async (exchange: Exchange, spec: EndpointSpec, state: RequestState): Promise<void> => {
    const bytes = await exchange.readBody(bodyLimitBytes)
    const json = valueOf(parseJsonBody(bytes)) as { model?: unknown }
    if (typeof json.model === "string") state.requestedModel = json.model
    const request = valueOf(decodeRequest(spec.schema, json)) as CanonicalRequest
    // Set first, so that the record of a request for an unknown model records whether it streamed.
    const streamable = spec.endpoint !== "embeddings" && spec.endpoint !== "count_tokens"
    state.stream = streamable && (request as { stream?: boolean | null }).stream === true
    let plan = valueOf(router.resolve(request.model))
    let order = orderDeployments(plan, router.health, Date.now())
    let first = order[0]
    if (first === undefined) throw new ModelNotFoundError({ model: request.model })
    const context = makeContext(state, exchange, request, plan.requestedModel, first)
    state.context = context

    // A hook that changes the model (a routing rule) re-routes the request before the next hook runs.
    const reroute = (model: string) => {
      plan = valueOf(router.resolve(model))
      order = orderDeployments(plan, router.health, Date.now())
      const next = order[0]
      if (next === undefined) throw new ModelNotFoundError({ model })
      first = next
      context.route = routeOf(request.model, next)
    }
    const pendingDecision = hooks.before(context, state.hookProgress, reroute, () => exchange.clientGone)
    const decision = isPromise(pendingDecision) ? await pendingDecision : pendingDecision
    let result: ProviderResult
    if (decision !== undefined) {
      state.answeredByHook = true
      result = decision.respond
    } else {
      const cancel = exchange.departure
      const invoke = (deployment: Deployment) => {
        state.lastAttempt = deployment
        state.upstreamAttempts++
        return spec.invoke(
          deployment.adapter,
          deployment.provider,
          context.request,
          // The signal is made when an adapter reads it. The SDK's adapters pass the attached notice on instead.
          attachCancelNotice(new ExchangeCallContext(state.requestId, deployment.upstreamModel, deployment.idleTimeoutMs, exchange), cancel),
          state.stream
        )
      }
      let routed: RoutedResult
      try {
        routed = await callWithRouting(router, plan, order, invoke, state.requestId, routingEffects, cancel, spec.endpoint !== "count_tokens")
      } catch (failure) {
        // The usage record and the after hooks name the deployment whose failure the client gets.
        const last = state.lastAttempt
        if (last !== undefined && last !== first) context.route = routeOf(request.model, last)
        throw failure
      }
      state.upstreamResponded = true
      if (routed.deployment !== first) context.route = routeOf(request.model, routed.deployment)
      result = routed.result
    }
    await respond(exchange, spec, state, result)
  }

  /** Runs the after hooks, then queues the usage record. */
  const finish = (state: RequestState, cancelled: boolean): Pending<void> => {
    let status: "ok" | "error" | "cancelled" = state.error === undefined && state.httpStatus < 400 ? "ok" : "error"
    if (cancelled) {
      status = "cancelled"
      state.httpStatus = 499
    }
    const outcome = state.outcome(status)
    const context = state.context
    if (context === undefined) {
      dependencies.recordUsage(state.toRecord(outcome, performance.now()))
      return
    }
    const ran = state.hookProgress.ran
    const recordAfterUsage = (): Pending<void> => {
      const record = state.toRecord(outcome, performance.now())
      const recorded: RecordedUsage = {
        status: record.status,
        httpStatus: record.httpStatus,
        usage: recordedUsageOf(outcome, context.record),
        estimated: record.usageEstimated,
        costUsd: record.costUsd
      }
      const done = hooks.afterUsage(context, recorded, ran)
      if (!isPromise(done)) return dependencies.recordUsage(record)
      return done.then(() => dependencies.recordUsage(record))
    }
    const after = hooks.after(context, outcome, ran)
    return isPromise(after) ? after.then(recordAfterUsage) : recordAfterUsage()
  }

  /** Logs an error that no step turned into a gateway error, by its name and message: logs carry no stack traces. */
  const logUnexpected = (state: RequestState, error: unknown, message = "Request failed unexpectedly") => {
    runSync(Effect.logError(message).pipe(Effect.annotateLogs({ "request.id": state.requestId, error: String(squashFailure(error)) })))
  }

  /**
   * Logs a failed upstream call with the request id, so that an operator sees what the client
   * got. An upstream 4xx is usually the client's mistake, so it is logged at info. A 429, and a
   * 401 or 403, which reject the provider key of Fluxen's own configuration, are warnings.
   * An error event in a stream has no HTTP status of its own, so its log line has no `http.status`
   * and its message names the event's error type.
   */
  const logUpstreamFailure = (state: RequestState, error: GatewayError): void => {
    if (!error._tag.startsWith("Upstream")) return
    const status = error._tag === "UpstreamHttpError" ? error.status : undefined
    const streamEvent = error._tag === "UpstreamHttpError" && error.streamEvent === true
    const upstreamRequestId = error._tag === "UpstreamHttpError" ? error.headers[UPSTREAM_REQUEST_ID_HEADER] : undefined
    const clientMistake = status !== undefined && status < 500 && status !== 429 && status !== 401 && status !== 403
    // The error names its provider, and the last attempt gives that provider's model.
    const provider = (error as { readonly provider: string }).provider
    const attempt = state.lastAttempt
    log(clientMistake ? "Info" : "Warning")("Upstream call failed", {
      "request.id": state.requestId,
      provider,
      model: attempt?.provider === provider ? attempt.upstreamModel : "",
      error: error._tag,
      ...(status === undefined || streamEvent ? {} : { "http.status": status }),
      ...(upstreamRequestId === undefined ? {} : { "upstream.request_id": upstreamRequestId }),
      "error.message": error.message
    })
  }

  /** Sends the error response to a failed request, and logs the errors of sending it instead of throwing them. */
  const respondToFailure = (exchange: Exchange, state: RequestState, spec: EndpointSpec, error: unknown): void => {
    try {
      if (isGatewayError(error)) {
        state.error = error
        logUpstreamFailure(state, error)
        const response = errorResponse(error)
        // After Fluxen's own retries or fallbacks, the SDKs' retries would multiply the upstream calls.
        if (state.upstreamAttempts > 1) response.headers["x-should-retry"] = "false"
        sendError(exchange, state, spec, response)
      } else {
        logUnexpected(state, error)
        sendError(exchange, state, spec, internalErrorResponse(state.requestId))
      }
    } catch (failure) {
      // Node rejects some header values, such as one a plugin added with characters outside
      // Latin-1. The client then gets a 500 without the plugins' headers.
      logUnexpected(state, failure, "Sending the error response failed")
      state.httpStatus = 500
      try {
        if (exchange.headersSent()) exchange.end()
        else exchange.send(500, jsonHeaders(spec, state.requestId), JSON.stringify(errorBody(spec, internalErrorResponse(state.requestId), state.requestId)))
      } catch (lastFailure) {
        logUnexpected(state, lastFailure, "Sending the error response failed")
      }
    }
  }

  const handle = async (exchange: Exchange, spec: EndpointSpec, state: RequestState): Promise<void> => {
    try {
      await pipeline(exchange, spec, state)
    } catch (error) {
      // A client that disconnected gets no response, and its request is recorded as cancelled below.
      if (!exchange.departure.cancelled()) respondToFailure(exchange, state, spec, error)
    }
    try {
      const finished = finish(state, exchange.departure.cancelled())
      if (isPromise(finished)) await finished
    } catch (error) {
      logUnexpected(state, error)
    } finally {
      dependencies.inflight.leave()
    }
  }

  /** Starts handling one request on a proxied route and returns before it ends. */
  return (exchange: Exchange, spec: EndpointSpec): void => {
    const state = new RequestState(newRequestId(), spec.endpoint, Date.now(), performance.now())
    exchange.requestId = state.requestId
    dependencies.inflight.enter()
    // `handle` catches every error, and it leaves the in-flight count when it ends.
    void handle(exchange, spec, state)
  }
}
