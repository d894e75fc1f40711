/**
 * The cancellation of a provider call, watched through one callback.
 *
 * It carries the same news as the call's `AbortSignal`. An `AbortSignal` is
 * an `EventTarget`, and making one and adding and removing its listener
 * cost several microseconds on each request, so a host may make the signal
 * only when something reads it. Code that only passes cancellation on (an
 * adapter to the HTTP transport) passes this notice instead and leaves the
 * signal unmade.
 */
export interface CancelNotice {
  /** True once the call is cancelled. */
  readonly cancelled: () => boolean
  /**
   * Calls `listener` once, when the call is cancelled, unless the returned
   * function was called first. Check `cancelled()` before watching: a
   * listener added after the cancellation is not called.
   */
  readonly watch: (listener: () => void) => () => void
}

// The notice is a non-enumerable own property, so `{ ...context }` does not copy it. In the
// benchmark a WeakMap entry per call kept each request's objects alive until a full collection,
// so the WeakMap serves only contexts that cannot take a property (frozen ones).
const noticeKey: unique symbol = Symbol("@fluxen/sdk/CancelNotice")
const noticesOfSealedContexts = new WeakMap<object, CancelNotice>()

/**
 * Makes `notice` the cancellation of the provider call whose context is this
 * very object, and returns the object. Hosts call it. A copy made with
 * `{ ...context, signal }` or `Object.create(context)` has no notice, so an
 * adapter that wraps another with its own deadline is obeyed. A `Proxy` of
 * the context keeps the notice, so such a wrapper must copy instead.
 */
export const attachCancelNotice = <C extends object>(context: C, notice: CancelNotice): C => {
  if (Object.isExtensible(context)) {
    Object.defineProperty(context, noticeKey, { value: notice, configurable: true })
  } else {
    noticesOfSealedContexts.set(context, notice)
  }
  return context
}

/** Returns the notice that the host attached to this context object, if any. Adapters pass it to the transport as `cancel`. */
export const cancelNoticeOfCall = (context: object): CancelNotice | undefined =>
  noticesOfSealedContexts.get(context) ??
  // Own only: an object made with `Object.create(context)` is a copy, not the same call.
  (Object.hasOwn(context, noticeKey) ? (context as { readonly [noticeKey]: CancelNotice })[noticeKey] : undefined)

/** Makes the notice of an `AbortSignal`, for hosts and tests that have a signal only. */
export const cancelNoticeOf = (signal: AbortSignal): CancelNotice => ({
  cancelled: () => signal.aborted,
  watch: (listener) => {
    signal.addEventListener("abort", listener, { once: true })
    return () => signal.removeEventListener("abort", listener)
  }
})
