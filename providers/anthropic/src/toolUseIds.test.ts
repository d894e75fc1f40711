import { describe, expect, it } from "@effect/vitest"
import { splitToolUseId, toToolUseId } from "./toolUseIds.js"

// Standard base64 with "+", "/" and "=" padding, as Gemini sends signatures.
const SIGNATURE = "EqUCCqICAb4+9vsh8Pd5taZVoPzSvjWW/wzB=="

const signed = (id: string, signature: string) => ({ id, extra_content: { google: { thought_signature: signature } } })

describe("toToolUseId", () => {
  it("keeps an unsigned id unchanged", () => {
    expect(toToolUseId({ id: "call_0_abc" })).toBe("call_0_abc")
  })

  it("appends the signature as base64url", () => {
    const id = toToolUseId(signed("call_0_abc", SIGNATURE))
    expect(id.startsWith("call_0_abc__thought_signature__")).toBe(true)
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it("ignores an empty signature", () => {
    expect(toToolUseId(signed("call_0_abc", ""))).toBe("call_0_abc")
  })

  it("encodes a foreign id", () => {
    expect(toToolUseId({ id: "functions.Bash:0" })).toMatch(/^fluxen_id_[A-Za-z0-9_-]+$/)
  })
})

describe("splitToolUseId", () => {
  it("restores a foreign id", () => {
    expect(splitToolUseId(toToolUseId({ id: "functions.Bash:0" })).id).toBe("functions.Bash:0")
  })

  it("restores a foreign signed id", () => {
    const split = splitToolUseId(toToolUseId(signed("functions.Bash:0", SIGNATURE)))
    expect(split.id).toBe("functions.Bash:0")
    expect(split.signature).toEqual({ extra_content: { google: { thought_signature: SIGNATURE } } })
  })

  it("round-trips id and signature", () => {
    const split = splitToolUseId(toToolUseId(signed("call_0_abc", SIGNATURE)))
    expect(split.id).toBe("call_0_abc")
    expect(split.signature).toEqual({ extra_content: { google: { thought_signature: SIGNATURE } } })
  })

  it("round-trips non-ASCII signatures", () => {
    const split = splitToolUseId(toToolUseId(signed("call_1", "sig ÷ 🌍")))
    expect(split.id).toBe("call_1")
    expect(split.signature?.extra_content.google.thought_signature).toBe("sig ÷ 🌍")
  })

  it("keeps a plain id whole", () => {
    expect(splitToolUseId("toolu_01NRLabsLyVHZPKxbKvkfSMn")).toEqual({ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", signature: undefined })
  })

  it("keeps an id with invalid base64url", () => {
    for (const id of ["call_0__thought_signature__", "call_0__thought_signature__a", "call_0__thought_signature__ab cd"]) {
      expect(splitToolUseId(id)).toEqual({ id, signature: undefined })
    }
  })
})
