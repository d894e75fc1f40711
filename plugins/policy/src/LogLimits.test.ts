/**
 * The throttled warning: one line per interval, each counting the calls
 * skipped since the line before, under the same annotation as the cache's.
 */
import { Effect, HashMap, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { makeThrottledWarning } from "./LogLimits.js"

describe("makeThrottledWarning", () => {
  it("counts skipped calls as log.suppressed", async () => {
    const lines: Array<Record<string, unknown>> = []
    const logger = Logger.make(({ annotations }) => {
      lines.push(Object.fromEntries(HashMap.toEntries(annotations)))
    })
    let nowMs = 0
    const warn = makeThrottledWarning("Redis failed", 1_000, () => nowMs)

    const program = Effect.gen(function* () {
      yield* warn({ attempt: 1 })
      nowMs = 10
      yield* warn({ attempt: 2 })
      yield* warn({ attempt: 3 })
      nowMs = 1_500
      yield* warn({ attempt: 4 })
    })
    await Effect.runPromise(program.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))

    expect(lines).toEqual([
      { attempt: 1, "log.suppressed": 0 },
      { attempt: 4, "log.suppressed": 2 }
    ])
  })
})
