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
  it("reads the context's signal only when the signal is read", () => {
    const { context, controller, reads } = countingContext()
    const request = requestOf(context)

    expect(reads.count).toBe(0)
    expect(request.signal).toBe(controller.signal)
    expect(reads.count).toBe(1)
    expect(request.idleTimeoutMs).toBe(5_000)
  })

  it("passes on the notice attached to the context", () => {
    const { context } = countingContext()

    expect(requestOf(attachCancelNotice(context, notice)).cancel).toBe(notice)
    expect(requestOf(countingContext().context).cancel).toBeUndefined()
  })

  it("keeps the signal in a spread copy", () => {
    const { context, controller } = countingContext()
    const copy = { ...requestOf(context), headers: { accept: "text/event-stream" } }

    expect(copy.signal).toBe(controller.signal)
    expect(copy.url).toBe("http://127.0.0.1:1/v1/chat/completions")
    expect(copy.body).toBe("{}")
    expect(Object.keys(copy)).not.toContain("context")
  })

  it("reads the signal through a derived object and a proxy", () => {
    const { context, controller } = countingContext()
    const request = requestOf(context)

    expect((Object.create(request) as CallUpstreamRequest).signal).toBe(controller.signal)
    expect(new Proxy(request, {}).signal).toBe(controller.signal)
    expect(Object.getOwnPropertyDescriptor(request, "signal")?.configurable).toBe(true)
  })

  // V8 keeps accessor pairs in the old generation: a getter made per request would keep the
  // request's objects alive through young-generation collections.
  it("shares one getter between requests", () => {
    const getterOf = (request: CallUpstreamRequest) => Object.getOwnPropertyDescriptor(request, "signal")?.get

    expect(getterOf(requestOf(countingContext().context))).toBeTypeOf("function")
    expect(getterOf(requestOf(countingContext().context))).toBe(getterOf(requestOf(countingContext().context)))
  })
})
