import { describe, expect, it } from "vitest"
import { axisSize } from "./charts.js"
import { formatUsd } from "./format.js"

describe("axisSize", () => {
  it("widens for long dollar labels", () => {
    const short = axisSize(undefined, ["$0", "$5", "$10"])
    const long = axisSize(undefined, [0, 0.0005, 0.0015].map(formatUsd))

    expect(long).toBeGreaterThan(short)
    // "$0.000500" is 9 characters; at about 7.5 px each it needs more than the 70 px axes had.
    expect(long).toBeGreaterThan(70)
  })

  it("has a floor before labels exist", () => {
    expect(axisSize(undefined, null)).toBe(40)
    expect(axisSize(undefined, [])).toBe(40)
  })
})
