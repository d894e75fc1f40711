/**
 * The `CallContext` of one provider call. Its `signal` is made from the
 * exchange when first read, through a getter that all instances share (see
 * the SDK's `sharedGetter`), so a `{ ...context }` copy still carries it.
 */
import { sharedGetter, type CallContext, type RequestHeaders } from "@fluxen/sdk"
import type { Exchange } from "../http/Exchange.js"

const exchangeKey: unique symbol = Symbol("exchange")

export class ExchangeCallContext implements CallContext {
  declare readonly signal: AbortSignal
  readonly clientHeaders: RequestHeaders
  readonly [exchangeKey]: Exchange

  constructor(
    readonly requestId: string,
    readonly upstreamModel: string,
    readonly idleTimeoutMs: number,
    exchange: Exchange
  ) {
    this.clientHeaders = exchange.headers
    this[exchangeKey] = exchange
    Object.defineProperty(this, "signal", ExchangeCallContext.signalProperty)
  }

  private static readonly signalProperty = sharedGetter(function (this: ExchangeCallContext): AbortSignal {
    return this[exchangeKey].clientGone
  })
}
