import { describe, expect, it } from "vitest"
import { describeErrorRate } from "./panels.js"

describe("describeErrorRate", () => {
  it("omits refusals when there are none", () => {
    expect(describeErrorRate(0, 0)).toBe("errors per request, cancellations excluded")
    expect(describeErrorRate(4, 0)).toBe("errors per request, cancellations excluded")
  })

  it("counts refusals among the errors", () => {
    expect(describeErrorRate(4, 1)).toBe(
      "errors per request, cancellations excluded. 1 of 4 errors was a refusal by keys, budgets or rate limits"
    )
    expect(describeErrorRate(1_200, 1_150)).toBe(
      "errors per request, cancellations excluded. 1,150 of 1,200 errors were refusals by keys, budgets or rate limits"
    )
  })
})
