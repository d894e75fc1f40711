import { describe, expect, it } from "vitest"
import { newSpanId, newTraceId } from "./SpanIds.js"

describe("span ids", () => {
  it("have W3C lengths in hex", () => {
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/)
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/)
  })

  it("differ across pool refills", () => {
    // 2,000 ids of 24 bytes use the 4,096-byte pool about twelve times over.
    const ids = new Set<string>()
    for (let index = 0; index < 1_000; index++) {
      ids.add(newTraceId())
      ids.add(newSpanId())
    }

    expect(ids.size).toBe(2_000)
  })
})
