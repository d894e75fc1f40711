import { describe, expect, it } from "vitest"
import { thresholdMessage, type ThresholdEvent } from "./BudgetAlerts.js"

const event = (spentUsd: number): ThresholdEvent => ({
  budget: { scope: "key", name: "static:budgeted", limit: { period: "day", limitUsd: 0.0003 }, warnAt: [0.8] },
  window: { period: "day", startMs: 0, endMs: 86_400_000, label: "1970-01-01" },
  fraction: 0.8,
  spentUsd
})

describe("thresholdMessage", () => {
  it("names the threshold and the spend", () => {
    expect(thresholdMessage(event(0.00025))).toBe(
      "The daily budget of the key 'static:budgeted' passed 80% of its limit: $0.00025 of $0.0003 spent (83%)."
    )
  })

  it("shows a spend past the limit", () => {
    expect(thresholdMessage(event(0.0004404))).toContain("$0.00044 of $0.0003 spent (147%)")
  })
})
