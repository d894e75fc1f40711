import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger, TestClock } from "effect"
import { makeRateLimitedWarning } from "./RateLimitedWarning.js"

interface Logged {
  readonly message: unknown
  readonly level: string
  readonly annotations: Record<string, unknown>
}

const capturingLogger = (logged: Array<Logged>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message, logLevel, annotations }) => {
      logged.push({ message, level: logLevel.label, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    })
  )

describe("makeRateLimitedWarning", () => {
  it.effect("logs once per interval and counts the rest", () => {
    const logged: Array<Logged> = []
    return Effect.gen(function* () {
      const warn = makeRateLimitedWarning(10_000)

      for (let i = 0; i < 5; i++) yield* warn("Redis failed", { attempt: i })
      yield* TestClock.adjust("9999 millis")
      yield* warn("Redis failed", { attempt: 5 })
      yield* TestClock.adjust("1 millis")
      yield* warn("Redis failed", { attempt: 6 })
      yield* warn("Redis failed", { attempt: 7 })

      expect(logged).toHaveLength(2)
      expect(logged[0]).toEqual({ message: ["Redis failed"], level: "WARN", annotations: { attempt: 0 } })
      expect(logged[1]).toEqual({ message: ["Redis failed"], level: "WARN", annotations: { attempt: 6, "log.suppressed": 5 } })
    }).pipe(Effect.provide(capturingLogger(logged)))
  })
})
