import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { fromPromise, promiseCallOf, runPromiseCall } from "./PromiseCall.js"

class Mapped {
  constructor(readonly cause: unknown) {}
}

describe("fromPromise", () => {
  it("runs as an Effect with the promise's value", async () => {
    const effect = fromPromise(async () => 42, (cause) => new Mapped(cause))
    expect(await Effect.runPromise(effect)).toBe(42)
  })

  it("fails as an Effect with the mapped rejection", async () => {
    const effect = fromPromise(() => Promise.reject(new Error("refused")), (cause) => new Mapped(cause))
    const exit = await Effect.runPromiseExit(effect)
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      expect(failure._tag).toBe("Some")
      expect((failure as { value: Mapped }).value).toBeInstanceOf(Mapped)
    }
  })

  it("carries the promise function, which runs once per run", async () => {
    let calls = 0
    const effect = fromPromise(async () => ++calls, (cause) => new Mapped(cause))
    const call = promiseCallOf(effect)
    expect(call).toBeDefined()
    expect(await runPromiseCall(call!)).toBe(1)
    expect(await Effect.runPromise(effect)).toBe(2)
    expect(calls).toBe(2)
  })

  it("rejects a run as a promise with the mapped error", async () => {
    const call = promiseCallOf(fromPromise(() => Promise.reject(new Error("reset")), (cause) => new Mapped(cause)))
    const rejection = await runPromiseCall(call!).catch((error: unknown) => error)
    expect(rejection).toBeInstanceOf(Mapped)
    expect(((rejection as Mapped).cause as Error).message).toBe("reset")
  })

  it("promiseCallOf: other Effects", () => {
    const effect = fromPromise(async () => 1, (cause) => new Mapped(cause))
    expect(promiseCallOf(Effect.succeed(1))).toBeUndefined()
    expect(promiseCallOf(Effect.map(effect, (n) => n + 1))).toBeUndefined()
  })
})
