import type { RequestHeaders } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import type { Exchange } from "../http/Exchange.js"
import { ExchangeCallContext } from "./ExchangeCallContext.js"

/** Makes an exchange whose `clientGone` counts its reads. The tests use nothing else of it. */
const countingExchange = () => {
  const controller = new AbortController()
  const reads = { count: 0 }
  const headers: RequestHeaders = { get: (name) => (name === "x-trace" ? "t-1" : undefined) }
  const exchange = {
    headers,
    get clientGone() {
      reads.count++
      return controller.signal
    }
  } as unknown as Exchange
  return { exchange, controller, reads }
}

describe("ExchangeCallContext", () => {
  it("signal made on read", () => {
    const { exchange, controller, reads } = countingExchange()
    const context = new ExchangeCallContext("req-1", "gpt-4o-mini", 30_000, exchange)

    expect(reads.count).toBe(0)
    expect(context.signal).toBe(controller.signal)
    expect(reads.count).toBe(1)
    expect(context.clientHeaders.get("x-trace")).toBe("t-1")
  })

  it("spread copy keeps fields", () => {
    const { exchange, controller } = countingExchange()
    const copy = { ...new ExchangeCallContext("req-1", "gpt-4o-mini", 30_000, exchange), upstreamModel: "other" }

    expect(copy.signal).toBe(controller.signal)
    expect(copy).toMatchObject({ requestId: "req-1", upstreamModel: "other", idleTimeoutMs: 30_000 })
    expect(Object.keys(copy).sort()).toEqual(["clientHeaders", "idleTimeoutMs", "requestId", "signal", "upstreamModel"])
  })

  it("derived object and proxy", () => {
    const { exchange, controller } = countingExchange()
    const context = new ExchangeCallContext("req-1", "gpt-4o-mini", 30_000, exchange)

    expect((Object.create(context) as ExchangeCallContext).signal).toBe(controller.signal)
    expect(new Proxy(context, {}).signal).toBe(controller.signal)
  })

  // A getter made per call would keep the request's objects alive until a full collection.
  it("calls share one getter", () => {
    const getterOf = (context: ExchangeCallContext) => Object.getOwnPropertyDescriptor(context, "signal")?.get
    const first = new ExchangeCallContext("req-1", "m", 1, countingExchange().exchange)
    const second = new ExchangeCallContext("req-2", "m", 1, countingExchange().exchange)

    expect(getterOf(first)).toBeTypeOf("function")
    expect(getterOf(first)).toBe(getterOf(second))
  })
})
