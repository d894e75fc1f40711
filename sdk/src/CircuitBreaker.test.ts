import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, HashMap, Logger, Option } from "effect"
import { CircuitBreaker, makeCircuitGuard, type CircuitGuardOptions } from "./CircuitBreaker.js"

const options = { failureThreshold: 3, initialOpenMs: 500, maxOpenMs: 2_000 }

/** Fails `count` normal commands at time `nowMs`. */
const failNormal = (breaker: CircuitBreaker, count: number, nowMs: number) => {
  for (let i = 0; i < count; i++) breaker.failed(breaker.acquire(nowMs), nowMs)
}

describe("CircuitBreaker", () => {
  it("opens after consecutive failures", () => {
    const breaker = new CircuitBreaker(options)

    failNormal(breaker, 2, 0)
    expect(breaker.state).toBe("closed")
    expect(breaker.failed("normal", 0)).toBe("opened")
    expect(breaker.state).toBe("open")
    expect(breaker.acquire(499)).toBe("skip")
  })

  it("success resets the failure count", () => {
    const breaker = new CircuitBreaker(options)

    failNormal(breaker, 2, 0)
    breaker.succeeded(breaker.acquire(0))
    failNormal(breaker, 2, 0)

    expect(breaker.state).toBe("closed")
  })

  it("sends one probe after the interval", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.acquire(500)).toBe("probe")
    expect(breaker.state).toBe("half-open")
    expect(breaker.acquire(501)).toBe("skip")
  })

  it("successful probe closes the breaker", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.succeeded(breaker.acquire(500))).toBe("closed")
    expect(breaker.state).toBe("closed")
    expect(breaker.acquire(501)).toBe("normal")
    expect(breaker.currentOpenMs).toBe(500)
  })

  it("failed probes double the interval", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.failed(breaker.acquire(500), 500)).toBeUndefined()
    expect(breaker.acquire(1_499)).toBe("skip")
    expect(breaker.acquire(1_500)).toBe("probe")
    breaker.failed("probe", 1_500)
    expect(breaker.currentOpenMs).toBe(2_000)
    breaker.failed(breaker.acquire(3_500), 3_500)
    expect(breaker.currentOpenMs).toBe(2_000)
  })

  it("late results leave it open", () => {
    const breaker = new CircuitBreaker(options)
    failNormal(breaker, 3, 0)

    expect(breaker.succeeded("normal")).toBeUndefined()
    expect(breaker.failed("normal", 100)).toBeUndefined()
    expect(breaker.state).toBe("open")
    expect(breaker.acquire(500)).toBe("probe")
  })
})

describe("makeCircuitGuard", () => {
  const skipped = () => "skipped" as const

  /** Makes a guard that runs `probe`, and the list of its log lines as level, message and `circuit.state`. */
  const makeGuard = (probe: CircuitGuardOptions["probe"]) =>
    Effect.gen(function* () {
      const logged: Array<string> = []
      const logger = Logger.make(({ logLevel, message, annotations }) => {
        const state = Option.getOrUndefined(HashMap.get(annotations, "circuit.state"))
        logged.push(`${logLevel.label} ${String(message)} ${String(state)}`)
      })
      const guard = yield* makeCircuitGuard({
        breaker: { failureThreshold: 3, initialOpenMs: 50, maxOpenMs: 200 },
        probe,
        log: { opened: (breaker) => `opened for ${breaker.currentOpenMs} ms`, closed: "closed" }
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      return { guard, logged }
    })

  it.live("skips commands while open", () =>
    Effect.gen(function* () {
      const { guard, logged } = yield* makeGuard(Effect.void)
      let sent = 0
      const command = Effect.suspend(() => {
        sent++
        return Effect.fail("refused" as const)
      })

      const results = []
      for (let i = 0; i < 5; i++) results.push(yield* Effect.flip(guard.run(command, skipped)))
      yield* Effect.yieldNow()

      expect(results).toEqual(["refused", "refused", "refused", "skipped", "skipped"])
      expect(sent).toBe(3)
      expect(guard.breaker.state).toBe("open")
      expect(logged).toEqual(["WARN opened for 50 ms open"])
    }))

  it.live("interrupted commands count as failed", () =>
    Effect.gen(function* () {
      const { guard } = yield* makeGuard(Effect.void)

      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.never, skipped).pipe(Effect.timeout("5 millis")))

      expect(guard.breaker.state).toBe("open")
    }))

  it.live("probes in the background, then closes", () =>
    Effect.gen(function* () {
      const probeStarted = yield* Deferred.make<void>()
      const releaseProbe = yield* Deferred.make<void>()
      const probe = Effect.zipRight(Deferred.succeed(probeStarted, undefined), Deferred.await(releaseProbe))
      const { guard, logged } = yield* makeGuard(probe)
      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.fail("refused"), skipped))
      yield* Effect.sleep("60 millis")

      // The command that finds the interval over is skipped without waiting for the probe.
      expect(yield* Effect.flip(guard.run(Effect.succeed(1), skipped))).toBe("skipped")
      yield* Deferred.await(probeStarted)
      expect(guard.breaker.state).toBe("half-open")
      expect(yield* Effect.flip(guard.run(Effect.succeed(1), skipped))).toBe("skipped")

      yield* Deferred.succeed(releaseProbe, undefined)
      yield* Effect.sleep("10 millis")

      expect(guard.breaker.state).toBe("closed")
      expect(yield* guard.run(Effect.succeed(1), skipped)).toBe(1)
      expect(logged).toEqual(["WARN opened for 50 ms open", "INFO closed closed"])
    }))

  it.live("failed probe keeps it open", () =>
    Effect.gen(function* () {
      const { guard, logged } = yield* makeGuard(Effect.fail("still down"))
      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.fail("refused"), skipped))
      yield* Effect.sleep("60 millis")

      yield* Effect.either(guard.run(Effect.succeed(1), skipped))
      yield* Effect.sleep("10 millis")

      expect(guard.breaker.state).toBe("open")
      expect(guard.breaker.currentOpenMs).toBe(100)
      expect(logged).toEqual(["WARN opened for 50 ms open"])
    }))
})
