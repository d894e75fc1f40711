import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { percentilesOf } from "../dashboard/percentiles.js"
import { UsageStore } from "./UsageStore.js"
import { clearUsage, layerUsageTestDatabase, makeUsageRecord, usageTestDatabases } from "./UsageTesting.js"

const range = { from: new Date("2025-04-01T00:00:00.000Z"), to: new Date("2025-04-04T00:00:00.000Z") }

// April 1: 101 successful requests of 1 to 101 ms, inserted in a scrambled order, and one slow failure.
const firstDayLatencies = Array.from({ length: 101 }, (_, index) => ((index * 37) % 101) + 1)
const firstDay = firstDayLatencies.map((totalMs, index) =>
  makeUsageRecord({ requestId: `first-${index}`, createdAt: new Date(Date.parse("2025-04-01T00:00:00Z") + index * 60_000), totalMs })
)
// April 3: three requests, the last at 23:59 UTC so a time zone shift would move it to the next day.
const thirdDay = [700, 300, 500].map((totalMs, index) =>
  makeUsageRecord({ requestId: `third-${index}`, createdAt: new Date(Date.parse("2025-04-03T23:57:00Z") + index * 60_000), totalMs })
)
const failures = [
  makeUsageRecord({ requestId: "failed", createdAt: new Date("2025-04-01T12:00:00Z"), status: "error", totalMs: 90_000 }),
  makeUsageRecord({ requestId: "stopped", createdAt: new Date("2025-04-03T12:00:00Z"), status: "cancelled", totalMs: 90_000 })
]

for (const database of usageTestDatabases) {
  layer(layerUsageTestDatabase(database), { timeout: "30 seconds" })(`latencyByDay on ${database.name}`, (it) => {
    it.effect("matches nearest-rank percentiles", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch([...firstDay, ...thirdDay, ...failures])

        const days = yield* store.latencyByDay(range)

        expect(days.map((day) => day.day)).toEqual(["2025-04-01", "2025-04-03"])
        expect(days[0]).toEqual({ day: "2025-04-01", requests: 101, ...percentilesOf(firstDayLatencies) })
        expect(days[1]).toEqual({ day: "2025-04-03", requests: 3, ...percentilesOf([700, 300, 500]) })
      }))

    it.effect("covers no day outside the range", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(thirdDay)

        const days = yield* store.latencyByDay({ from: range.from, to: new Date("2025-04-03T00:00:00Z") })

        expect(days).toEqual([])
      }))
  })
}
