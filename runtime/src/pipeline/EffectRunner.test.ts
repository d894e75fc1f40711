import { cancelNoticeOf, fromPromise } from "@fluxen/sdk"
import { Cause, Effect, Runtime } from "effect"
import { describe, expect, it } from "vitest"
import { EffectFailure, makeEffectRunner, sleepUnlessCancelled } from "./EffectRunner.js"

const run = makeEffectRunner(Runtime.defaultRuntime)

describe("EffectRunner", () => {
  it("resolves with an Effect's value and rejects with its typed failure", async () => {
    const cancel = cancelNoticeOf(new AbortController().signal)
    expect(await run(Effect.succeed(3), cancel)).toBe(3)
    expect(await run(Effect.fail("typed"), cancel).catch((error: unknown) => error)).toBe("typed")
  })

  it("rejects with an EffectFailure holding the defect of an Effect that died", async () => {
    const rejection = await run(Effect.die(new Error("boom")), cancelNoticeOf(new AbortController().signal)).catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(EffectFailure)
    expect((Cause.squash((rejection as EffectFailure).cause) as Error).message).toBe("boom")
  })

  it("interrupts a running Effect when the call is cancelled", async () => {
    const controller = new AbortController()
    let finalized = false
    const waiting = run(Effect.never.pipe(Effect.ensuring(Effect.sync(() => (finalized = true)))), cancelNoticeOf(controller.signal))
    controller.abort()
    const rejection = await waiting.catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(EffectFailure)
    expect(Cause.isInterruptedOnly((rejection as EffectFailure).cause)).toBe(true)
    expect(finalized).toBe(true)
  })

  it("runs nothing for a call cancelled already", async () => {
    const controller = new AbortController()
    controller.abort()
    let ran = false
    const rejection = await run(Effect.sync(() => (ran = true)), cancelNoticeOf(controller.signal)).catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(EffectFailure)
    expect(ran).toBe(false)
  })

  it("awaits a promise call without a fiber, with its typed error", async () => {
    const cancel = cancelNoticeOf(new AbortController().signal)
    let fiberRuns = 0
    // A promise call wrapped in another Effect is an ordinary Effect and runs in a fiber.
    const direct = fromPromise(async () => "direct", (cause) => cause)
    const wrapped = Effect.tap(direct, () => Effect.sync(() => fiberRuns++))
    expect(await run(direct, cancel)).toBe("direct")
    expect(fiberRuns).toBe(0)
    expect(await run(wrapped, cancel)).toBe("direct")
    expect(fiberRuns).toBe(1)
    const failing = fromPromise(() => Promise.reject(new Error("x")), () => "mapped")
    expect(await run(failing, cancel).catch((error: unknown) => error)).toBe("mapped")
  })
})

describe("sleepUnlessCancelled", () => {
  it("waits, or rejects as interrupted when cancelled", async () => {
    const started = performance.now()
    await sleepUnlessCancelled(20, cancelNoticeOf(new AbortController().signal))
    expect(performance.now() - started).toBeGreaterThanOrEqual(15)
    const controller = new AbortController()
    const sleeping = sleepUnlessCancelled(60_000, cancelNoticeOf(controller.signal))
    controller.abort()
    const rejection = await sleeping.catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(EffectFailure)
  })
})
