import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, HashMap, Logger, Option, Scope, TestClock } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { CircuitBreaker, makeCircuitGuard, type CircuitGuard, type CircuitGuardOptions } from "./CircuitBreaker.js"

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

  /** Makes a guard in the current scope that runs `probe`, and the list of its log lines as level, message and `circuit.state`. */
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

  it.scopedLive("skips commands while open", () =>
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

  it.scopedLive("interrupted commands count as failed", () =>
    Effect.gen(function* () {
      const { guard } = yield* makeGuard(Effect.void)

      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.never, skipped).pipe(Effect.timeout("5 millis")))

      expect(guard.breaker.state).toBe("open")
    }))

  it.scopedLive("probes in the background, then closes", () =>
    Effect.gen(function* () {
      const probeStarted = yield* Deferred.make<void>()
      const releaseProbe = yield* Deferred.make<void>()
      const probe = Effect.zipRight(Deferred.succeed(probeStarted, undefined), Deferred.await(releaseProbe))
      const { guard, logged } = yield* makeGuard(probe)
      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.fail("refused"), skipped))
      yield* Effect.sleep("60 millis")

      // The guard started the probe when the interval ended; commands are skipped without waiting for it.
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

  it.scopedLive("failed probe keeps it open", () =>
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

  /** Fails three commands, which opens the guard's breaker for 50 ms. */
  const openBreaker = (guard: CircuitGuard) =>
    Effect.gen(function* () {
      for (let i = 0; i < 3; i++) yield* Effect.either(guard.run(Effect.fail("refused"), skipped))
    })

  it.scoped("probes when the interval ends", () =>
    Effect.gen(function* () {
      let probes = 0
      const { guard, logged } = yield* makeGuard(Effect.sync(() => probes++))
      yield* openBreaker(guard)

      yield* TestClock.adjust("49 millis")
      expect(probes).toBe(0)
      expect(guard.breaker.state).toBe("open")

      // No command is sent: the guard's own timer probes.
      yield* TestClock.adjust("1 millis")
      yield* Effect.yieldNow()
      expect(probes).toBe(1)
      expect(guard.breaker.state).toBe("closed")
      expect(logged).toEqual(["WARN opened for 50 ms open", "INFO closed closed"])
      expect(yield* guard.run(Effect.succeed(1), skipped)).toBe(1)
    }))

  it.scoped("reschedules after a failed probe", () =>
    Effect.gen(function* () {
      let probes = 0
      const { guard } = yield* makeGuard(Effect.suspend(() => {
        probes++
        return Effect.fail("still down")
      }))
      yield* openBreaker(guard)

      yield* TestClock.adjust("50 millis")
      expect(probes).toBe(1)
      expect(guard.breaker.state).toBe("open")
      expect(guard.breaker.currentOpenMs).toBe(100)

      yield* TestClock.adjust("99 millis")
      expect(probes).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(probes).toBe(2)
      expect(guard.breaker.currentOpenMs).toBe(200)

      yield* TestClock.adjust("200 millis")
      expect(probes).toBe(3)
      expect(guard.breaker.state).toBe("open")
    }))

  it.scoped("skips commands while the timer waits", () =>
    Effect.gen(function* () {
      let probes = 0
      const { guard } = yield* makeGuard(Effect.sync(() => probes++))
      yield* openBreaker(guard)

      yield* TestClock.adjust("25 millis")
      let sent = 0
      const result = yield* Effect.flip(guard.run(Effect.sync(() => sent++), skipped))

      expect(result).toBe("skipped")
      expect(sent).toBe(0)
      expect(probes).toBe(0)
    }))

  it.effect("stops the timer when its scope closes", () =>
    Effect.gen(function* () {
      let probes = 0
      const scope = yield* Scope.make()
      const { guard } = yield* Scope.extend(makeGuard(Effect.sync(() => probes++)), scope)
      yield* openBreaker(guard)

      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("1 second")

      expect(probes).toBe(0)
      expect(guard.breaker.state).toBe("open")
    }))

  // Opens a breaker for a minute and never closes its scope: Node must still exit at once.
  const openGuardScript = `
import { Effect, Scope } from "effect"
import { makeCircuitGuard } from ${JSON.stringify(fileURLToPath(new URL("../dist/CircuitBreaker.js", import.meta.url)))}
const program = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const guard = yield* Scope.extend(makeCircuitGuard({
    breaker: { failureThreshold: 1, initialOpenMs: 60000, maxOpenMs: 60000 },
    probe: Effect.void,
    log: { opened: () => "opened", closed: "closed" }
  }), scope)
  yield* Effect.either(guard.run(Effect.fail("refused"), () => "skipped"))
  console.log("circuit.state=" + guard.breaker.state)
})
Effect.runFork(program)
`

  it("timer does not keep Node running", async () => {
    const started = Date.now()
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", openGuardScript], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      timeout: 10_000
    })

    expect(stdout).toContain("circuit.state=open")
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
