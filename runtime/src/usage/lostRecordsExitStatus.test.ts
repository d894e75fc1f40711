import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { lostRecordsExitStatus, type LostUsageRecords } from "./lostRecordsExitStatus.js"
import { captureLogs } from "./UsageTesting.js"

describe("lostRecordsExitStatus", () => {
  it.effect("returns 0 and logs nothing without losses", () =>
    Effect.gen(function* () {
      const { layer: logLayer, logs } = captureLogs()

      const status = yield* lostRecordsExitStatus({ dropped: 0, unrecordedRequests: 0 }).pipe(Effect.provide(logLayer))

      expect(status).toBe(0)
      expect(logs).toEqual([])
    }))

  const losses: ReadonlyArray<LostUsageRecords> = [
    { dropped: 3, unrecordedRequests: 0 },
    { dropped: 0, unrecordedRequests: 2 },
    { dropped: 1, unrecordedRequests: 4 }
  ]
  for (const lost of losses) {
    it.effect(`returns 1 for ${lost.dropped} dropped and ${lost.unrecordedRequests} unrecorded`, () =>
      Effect.gen(function* () {
        const { layer: logLayer, logs } = captureLogs()

        const status = yield* lostRecordsExitStatus(lost).pipe(Effect.provide(logLayer))

        expect(status).toBe(1)
        expect(logs).toHaveLength(1)
        expect(logs[0]!.level).toBe("ERROR")
        expect(logs[0]!.message).toMatch(/^Usage records were lost, so Fluxen exits with status 1\./)
        expect(logs[0]!.annotations["usage.dropped"]).toBe(lost.dropped)
        expect(logs[0]!.annotations["requests.unrecorded"]).toBe(lost.unrecordedRequests)
      }))
  }
})
