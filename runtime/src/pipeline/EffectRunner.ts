/**
 * Running an Effect from the pipeline's async code: as a promise that
 * resolves with its value or rejects with its typed failure, in a fiber
 * that the client's leaving interrupts. A promise call (`fromPromise` in
 * the SDK) runs without a fiber, and its own work watches the same
 * cancellation.
 */
import { promiseCallOf, runPromiseCall, type CancelNotice } from "@fluxen/sdk"
import { Cause, type Effect, FiberId, Option, Runtime } from "effect"

/** The rejection of an Effect that died or was interrupted, with its `cause`. */
export class EffectFailure {
  constructor(readonly cause: Cause.Cause<unknown>) {}
}

/** The error inside a rejection, with the defect of an `EffectFailure` unwrapped. */
export const squashFailure = (error: unknown): unknown => (error instanceof EffectFailure ? Cause.squash(error.cause) : error)

export type EffectRunner = <A, E>(effect: Effect.Effect<A, E>, cancel: CancelNotice) => Promise<A>

export const makeEffectRunner = (runtime: Runtime.Runtime<never>): EffectRunner => {
  const runFork = Runtime.runFork(runtime)
  return <A, E>(effect: Effect.Effect<A, E>, cancel: CancelNotice): Promise<A> => {
    // A watch added after the client left would never be called, so a call cancelled already is rejected here.
    if (cancel.cancelled()) return Promise.reject(new EffectFailure(Cause.interrupt(FiberId.none)))
    const call = promiseCallOf(effect)
    if (call !== undefined) return runPromiseCall(call)
    return new Promise((resolve, reject) => {
      const fiber = runFork(effect)
      const stopWatching = cancel.watch(() => fiber.unsafeInterruptAsFork(FiberId.none))
      fiber.addObserver((exit) => {
        stopWatching()
        if (exit._tag === "Success") return resolve(exit.value)
        const failure = Cause.failureOption(exit.cause)
        reject(Option.isSome(failure) ? failure.value : new EffectFailure(exit.cause))
      })
    })
  }
}

/** Waits `ms` milliseconds, or rejects as interrupted when the call is cancelled first. */
export const sleepUnlessCancelled = (ms: number, cancel: CancelNotice): Promise<void> =>
  new Promise((resolve, reject) => {
    if (cancel.cancelled()) return reject(new EffectFailure(Cause.interrupt(FiberId.none)))
    const timer = setTimeout(() => {
      stopWatching()
      resolve()
    }, ms)
    const stopWatching = cancel.watch(() => {
      clearTimeout(timer)
      reject(new EffectFailure(Cause.interrupt(FiberId.none)))
    })
  })
