import { describe, expect, it } from "@effect/vitest"
import { originalToolUseId, wireToolUseId } from "./wireToolUseId.js"

const accepted = /^[A-Za-z0-9_-]+$/

describe("wireToolUseId", () => {
  it("keeps an accepted id", () => {
    expect(wireToolUseId("toolu_01A-b")).toBe("toolu_01A-b")
  })

  it("encodes rejected characters", () => {
    expect(wireToolUseId("functions.Bash:0")).toBe("fluxen_id_ZnVuY3Rpb25zLkJhc2g6MA")
  })

  it("encodes to an accepted id", () => {
    for (const id of ["call|fc_1", "a b", "é", ""]) {
      expect(wireToolUseId(id), id).toMatch(accepted)
    }
  })

  it("restores the original id", () => {
    for (const id of ["functions.Bash:0", "call|fc_1", "é", "toolu_01A-b"]) {
      expect(originalToolUseId(wireToolUseId(id)), id).toBe(id)
    }
  })

  it("keeps an id that only looks encoded", () => {
    expect(originalToolUseId("fluxen_id_not*base64")).toBe("fluxen_id_not*base64")
  })
})
