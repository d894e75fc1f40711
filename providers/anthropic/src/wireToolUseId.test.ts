import { describe, expect, it } from "@effect/vitest"
import { wireToolUseId } from "./wireToolUseId.js"

const accepted = /^[A-Za-z0-9_-]+$/

describe("wireToolUseId", () => {
  it("keeps an accepted id", () => {
    expect(wireToolUseId("toolu_01A-b")).toBe("toolu_01A-b")
  })

  it("rewrites rejected characters", () => {
    expect(wireToolUseId("functions.Bash:0")).toMatch(/^functions_Bash_0_[0-9a-f]{8}$/)
  })

  it("rewrites to an accepted id", () => {
    for (const id of ["call|fc_1", "a b", "é", ""]) {
      expect(wireToolUseId(id), id).toMatch(accepted)
    }
  })

  it("gives one id one result", () => {
    expect(wireToolUseId("functions.Read:3")).toBe(wireToolUseId("functions.Read:3"))
  })

  it("keeps similar ids apart", () => {
    expect(wireToolUseId("a.b")).not.toBe(wireToolUseId("a:b"))
  })
})
