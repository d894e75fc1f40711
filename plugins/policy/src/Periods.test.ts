import { describe, expect, it } from "@effect/vitest"
import { makePeriodClock } from "./Periods.js"

const at = (iso: string) => new Date(iso).getTime()
const iso = (ms: number) => new Date(ms).toISOString()

describe("makePeriodClock", () => {
  it("starts days at midnight UTC", () => {
    const window = makePeriodClock()("day", at("2025-03-01T23:59:59.999Z"))

    expect(iso(window.startMs)).toBe("2025-03-01T00:00:00.000Z")
    expect(iso(window.endMs)).toBe("2025-03-02T00:00:00.000Z")
    expect(window.label).toBe("2025-03-01")
  })

  it("starts weeks on Monday", () => {
    const clock = makePeriodClock()

    // 2025-03-02 is a Sunday, 2025-03-03 a Monday.
    expect(iso(clock("week", at("2025-03-02T12:00:00Z")).startMs)).toBe("2025-02-24T00:00:00.000Z")
    expect(iso(clock("week", at("2025-03-03T00:00:00Z")).startMs)).toBe("2025-03-03T00:00:00.000Z")
    expect(iso(clock("week", at("2025-03-03T00:00:00Z")).endMs)).toBe("2025-03-10T00:00:00.000Z")
  })

  it("starts months on the first", () => {
    const clock = makePeriodClock()

    const february = clock("month", at("2024-02-29T08:00:00Z"))
    const december = clock("month", at("2025-12-31T23:00:00Z"))

    expect(iso(february.startMs)).toBe("2024-02-01T00:00:00.000Z")
    expect(iso(february.endMs)).toBe("2024-03-01T00:00:00.000Z")
    expect(iso(december.endMs)).toBe("2026-01-01T00:00:00.000Z")
  })

  it("moves to the next period at its boundary", () => {
    const clock = makePeriodClock()

    const before = clock("day", at("2025-03-01T23:59:59.999Z"))
    const after = clock("day", at("2025-03-02T00:00:00.000Z"))

    expect(before.label).toBe("2025-03-01")
    expect(after.label).toBe("2025-03-02")
  })
})
