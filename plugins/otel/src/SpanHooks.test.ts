import { UpstreamHttpError, type RecordedUsage, type RequestContext, type RequestHooks } from "@fluxen/sdk"
import { makeOutcome, makeRequestContext } from "@fluxen/sdk/testing"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { FinishedSpan } from "./RequestSpan.js"
import { makeSpanHooks, spanAttributeKey } from "./SpanHooks.js"
import { SpanQueue } from "./SpanQueue.js"
import { recordedOk } from "./testing/recordedUsage.js"

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

const contextWith = (headers: Record<string, string> = {}): RequestContext =>
  makeRequestContext({
    request: { model: "gpt-4o-mini", messages: [{ role: "user", content: "secret prompt" }] },
    headers,
    requestId: "request-1"
  })

const makeHooks = (sampleRatio = 1, random?: () => number) => {
  const queue = new SpanQueue<FinishedSpan>(10, 10)
  const hooks = makeSpanHooks({ pluginName: "otel", sampleRatio, queue, ...(random === undefined ? {} : { random }) }) as Required<
    Pick<RequestHooks, "beforeRequest" | "afterResponse" | "afterUsage">
  >
  return { queue, hooks }
}

/** Runs one request through the three hooks and returns the queued spans. */
const runRequest = (
  context: RequestContext,
  recorded: RecordedUsage,
  options: { sampleRatio?: number; error?: UpstreamHttpError; responseModel?: string } = {}
) => {
  const { queue, hooks } = makeHooks(options.sampleRatio)
  Effect.runSync(hooks.beforeRequest(context))
  const outcome = makeOutcome({ status: recorded.status, httpStatus: recorded.httpStatus, error: options.error, responseModel: options.responseModel })
  Effect.runSync(hooks.afterResponse(context, outcome))
  Effect.runSync(hooks.afterUsage(context, recorded))
  return queue.takeBatch()
}

describe("span hooks", () => {
  it("return completed effects", () => {
    const { hooks } = makeHooks()
    const context = contextWith({ traceparent: TRACEPARENT })

    expect(Exit.isExit(hooks.beforeRequest(context))).toBe(true)
    expect(Exit.isExit(hooks.afterResponse(context, makeOutcome()))).toBe(true)
    expect(Exit.isExit(hooks.afterUsage(context, recordedOk))).toBe(true)
  })

  it("queue one span per request", () => {
    const spans = runRequest(contextWith(), recordedOk)

    expect(spans).toHaveLength(1)
    expect(spans[0]!.requestId).toBe("request-1")
    expect(spans[0]!.endMs).toBeGreaterThanOrEqual(spans[0]!.startMs)
  })

  it("join the client's trace", () => {
    const [span] = runRequest(contextWith({ traceparent: TRACEPARENT, tracestate: "congo=t61rcWkgMzE" }), recordedOk)

    expect(span!.parent?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
    expect(span!.parent?.spanId).toBe("00f067aa0ba902b7")
    expect(span!.parent?.traceState).toBe("congo=t61rcWkgMzE")
  })

  it("ignore an invalid traceparent", () => {
    const [span] = runRequest(contextWith({ traceparent: "00-not-a-trace-01" }), recordedOk)

    expect(span!.parent).toBeUndefined()
  })

  it("skip requests of an unsampled trace", () => {
    const spans = runRequest(contextWith({ traceparent: TRACEPARENT.replace(/-01$/, "-00") }), recordedOk)

    expect(spans).toEqual([])
  })

  it("skip new traces at ratio 0", () => {
    expect(runRequest(contextWith(), recordedOk, { sampleRatio: 0 })).toEqual([])
  })

  it("note a failed request's error", () => {
    const error = new UpstreamHttpError({
      provider: "openai",
      status: 401,
      error: { message: "Incorrect API key", type: null, param: null, code: null },
      headers: {}
    })
    const [span] = runRequest(contextWith(), { ...recordedOk, status: "error", httpStatus: 401, usage: undefined, costUsd: null }, { error })

    expect(span!.errorType).toBe("UpstreamHttpError")
    expect(span!.httpStatus).toBe(401)
  })

  it("note the response model", () => {
    const [span] = runRequest(contextWith(), recordedOk, { responseModel: "gpt-4o-mini-2024-07-18" })

    expect(span!.responseModel).toBe("gpt-4o-mini-2024-07-18")
  })

  it("leave an unknown response model", () => {
    const [span] = runRequest(contextWith(), recordedOk)

    expect(span!.responseModel).toBeUndefined()
  })

  it("read caller fields at the end", () => {
    const { queue, hooks } = makeHooks()
    const context = contextWith()
    Effect.runSync(hooks.beforeRequest(context))
    context.caller.keyId = "key_123"
    context.caller.team = "research"
    context.record.cacheStatus = "hit"
    Effect.runSync(hooks.afterUsage(context, recordedOk))

    const [span] = queue.takeBatch()
    expect(span!.keyId).toBe("key_123")
    expect(span!.team).toBe("research")
    expect(span!.cacheStatus).toBe("hit")
  })

  it("keep the started span per instance", () => {
    const { hooks } = makeHooks()
    const context = contextWith()
    Effect.runSync(hooks.beforeRequest(context))

    expect([...context.attributes.keys()]).toEqual([spanAttributeKey("otel")])
  })
})
