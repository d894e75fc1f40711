import { describe, expect, it } from "vitest"
import { CallUpstreamRequest } from "./CallUpstreamRequest.js"
import { attachCancelNotice, type CancelNotice } from "./CancelNotice.js"
import type { CallContext } from "./Provider.js"

const notice: CancelNotice = { cancelled: () => false, watch: () => () => {} }

/** Makes a call context that counts the reads of its signal. */
const countingContext = () => {
  const controller = new AbortController()
  const reads = { count: 0 }
  const context: CallContext = {
    requestId: "req-1",
    upstreamModel: "gpt-4o-mini",
    get signal() {
      reads.count++
      return controller.signal
    },
    idleTimeoutMs: 5_000,
    clientHeaders: { get: () => undefined }
  }
  return { context, controller, reads }
}

const requestOf = (context: CallContext) =>
  new CallUpstreamRequest("openai", "POST", "http://127.0.0.1:1/v1/chat/completions", { accept: "application/json" }, "{}", context)

describe("CallUpstreamRequest", () => {
  it("signal read on demand", () => {
    const { context, controller, reads } = countingContext()
    const request = requestOf(context)

    expect(reads.count).toBe(0)
    expect(request.signal).toBe(controller.signal)
    expect(reads.count).toBe(1)
    expect(request.idleTimeoutMs).toBe(5_000)
  })

  it("attached notice passed on", () => {
    const { context } = countingContext()

    expect(requestOf(attachCancelNotice(context, notice)).cancel).toBe(notice)
    expect(requestOf(countingContext().context).cancel).toBeUndefined()
  })

  it("spread copy keeps the signal", () => {
    const { context, controller } = countingContext()
    const copy = { ...requestOf(context), headers: { accept: "text/event-stream" } }

    expect(copy.signal).toBe(controller.signal)
    expect(copy.url).toBe("http://127.0.0.1:1/v1/chat/completions")
    expect(copy.body).toBe("{}")
    expect(Object.keys(copy)).not.toContain("context")
  })

  it("derived object and proxy", () => {
    const { context, controller } = countingContext()
    const request = requestOf(context)

    expect((Object.create(request) as CallUpstreamRequest).signal).toBe(controller.signal)
    expect(new Proxy(request, {}).signal).toBe(controller.signal)
    expect(Object.getOwnPropertyDescriptor(request, "signal")?.configurable).toBe(true)
  })

  // A getter made per request would keep the request's objects alive until a full collection.
  it("requests share one getter", () => {
    const getterOf = (request: CallUpstreamRequest) => Object.getOwnPropertyDescriptor(request, "signal")?.get

    expect(getterOf(requestOf(countingContext().context))).toBeTypeOf("function")
    expect(getterOf(requestOf(countingContext().context))).toBe(getterOf(requestOf(countingContext().context)))
  })
})
