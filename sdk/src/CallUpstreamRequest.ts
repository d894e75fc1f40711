/**
 * The `UpstreamRequest` of a provider call. Its `signal` comes from the
 * call's context only when a transport reads it, and `cancel` is the notice
 * that the host attached to the context, so a transport that watches the
 * notice never makes the signal.
 *
 * `signal` is an own, enumerable accessor whose getter all instances share,
 * so a transport that wraps another and copies the request with
 * `{ ...request, headers }` still passes the signal on. Write it this way,
 * not as an object literal with a getter: V8 keeps a property's accessor
 * pair in the old generation, so a getter made per object, and everything
 * that getter reaches, survive young-generation collections until a full one.
 */
import { cancelNoticeOfCall, type CancelNotice } from "./CancelNotice.js"
import type { UpstreamRequest } from "./HttpTransport.js"
import type { CallContext } from "./Provider.js"

/** The part of a call that the request reads: a `CallContext`, or the context of `listModels`. */
export type CallSignal = Pick<CallContext, "signal" | "idleTimeoutMs">

// Under a symbol rather than in a private field, so that the shared getter also works on an
// object derived with `Object.create` or behind a Proxy.
const contextKey: unique symbol = Symbol("context")

export class CallUpstreamRequest implements UpstreamRequest {
  declare readonly signal: AbortSignal
  readonly cancel: CancelNotice | undefined
  readonly idleTimeoutMs: number
  readonly [contextKey]: CallSignal

  constructor(
    readonly provider: string,
    readonly method: "GET" | "POST",
    readonly url: string,
    readonly headers: Readonly<Record<string, string>>,
    readonly body: string | Uint8Array | undefined,
    context: CallSignal
  ) {
    this.cancel = cancelNoticeOfCall(context)
    this.idleTimeoutMs = context.idleTimeoutMs
    this[contextKey] = context
    Object.defineProperty(this, "signal", CallUpstreamRequest.signalProperty)
  }

  private static readonly signalProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: CallUpstreamRequest): AbortSignal {
      return this[contextKey].signal
    }
  }
}
