/**
 * The `CallContext` of one provider call, whose `signal` is made from the
 * exchange only when something reads it.
 *
 * `signal` is an own, enumerable accessor with one getter shared by every
 * instance, so a copy made with `{ ...context }` still carries the signal.
 * An object literal with a getter (`{ get signal() { ... } }`) would do the
 * same, but V8 keeps the accessor pair of such a literal in the old
 * generation. The request objects that its getter reaches then outlive
 * every young-generation collection until a full one. In the benchmark that
 * made each young collection several times slower.
 */
import type { CallContext, RequestHeaders } from "@fluxen/sdk"
import type { Exchange } from "../http/Exchange.js"

// The state that the shared getter reads is kept under a symbol rather than in a private field,
// so that the getter also works on an object derived with `Object.create` or behind a Proxy.
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

  private static readonly signalProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: ExchangeCallContext): AbortSignal {
      return this[exchangeKey].clientGone
    }
  }
}
