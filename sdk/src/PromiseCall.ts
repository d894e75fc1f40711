/**
 * A provider call made from a function that returns a promise. It is an
 * ordinary Effect, which behaves like `Effect.tryPromise`, and it also
 * carries the function, so a host may await the promise itself and skip
 * starting a fiber for it. Provider calls are on every request's path, and
 * most of them are one HTTP exchange, so the fiber is a measurable share of
 * what a request costs.
 *
 * The function must stop its work when the call's `CallContext.signal`
 * aborts: a host that awaits the promise directly cancels it only through
 * that signal.
 */
import { Effect } from "effect"

const PromiseCallKey: unique symbol = Symbol.for("@fluxen/sdk/PromiseCall")

export interface PromiseCall<A, E> {
  readonly evaluate: () => Promise<A>
  /** Maps whatever the promise rejects with to the call's typed error. */
  readonly onError: (cause: unknown) => E
}

type Carrier<A, E> = Effect.Effect<A, E> & { readonly [PromiseCallKey]?: PromiseCall<A, E> }

/** Creates an Effect of `evaluate`'s result that fails with `onError` of its rejection. */
export const fromPromise = <A, E>(evaluate: () => Promise<A>, onError: (cause: unknown) => E): Effect.Effect<A, E> => {
  const effect = Effect.tryPromise({ try: evaluate, catch: onError })
  const call: PromiseCall<A, E> = { evaluate, onError }
  return Object.defineProperty(effect, PromiseCallKey, { value: call })
}

/** The promise call behind `effect`, when `fromPromise` made it. */
export const promiseCallOf = <A, E>(effect: Effect.Effect<A, E>): PromiseCall<A, E> | undefined =>
  (effect as Carrier<A, E>)[PromiseCallKey]

/**
 * Runs a promise call as a promise: resolves with its value, or rejects
 * with its typed error.
 */
export const runPromiseCall = async <A, E>(call: PromiseCall<A, E>): Promise<A> => {
  try {
    return await call.evaluate()
  } catch (cause) {
    throw call.onError(cause)
  }
}
