/**
 * The `UpstreamRequest` of a provider call. Its `signal` comes from the
 * call's context only when a transport reads it, and `cancel` is the notice
 * that the host attached to the context, so a transport that watches the
 * notice never makes the signal.
 *
 * `signal` is a getter that all instances share (see `sharedGetter`), so a
 * transport that wraps another and copies the request with
 * `{ ...request, headers }` still passes the signal on.
 */
import { cancelNoticeOfCall, type CancelNotice } from "./CancelNotice.js"
import type { UpstreamRequest } from "./HttpTransport.js"
import type { CallContext } from "./Provider.js"
import { sharedGetter } from "./SharedGetter.js"

/** Fields of a call that the request reads: from a `CallContext`, or from the context of `listModels`. */
export type CallSignal = Pick<CallContext, "signal" | "idleTimeoutMs">

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

  private static readonly signalProperty = sharedGetter(function (this: CallUpstreamRequest): AbortSignal {
    return this[contextKey].signal
  })
}
