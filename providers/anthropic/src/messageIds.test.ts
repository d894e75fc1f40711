import { describe, expect, it } from "vitest"
import { toMessageId } from "./messageIds.js"

describe("toMessageId", () => {
  it("keeps an Anthropic id", () => {
    expect(toMessageId("msg_01VdEjxAP5ahtHKrrRdNBteQ")).toBe("msg_01VdEjxAP5ahtHKrrRdNBteQ")
  })

  it("replaces the chatcmpl- prefix", () => {
    expect(toMessageId("chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU")).toBe("msg_D8Z5f52zQqikDBEKQMQoYcWMcWPeU")
  })

  it("prefixes an id of another shape", () => {
    expect(toMessageId("gen-1745000000-abc")).toBe("msg_gen-1745000000-abc")
  })

  it("empty id gets a random one", () => {
    const first = toMessageId("")
    const second = toMessageId("")
    expect(first).toMatch(/^msg_[0-9a-f]{32}$/)
    expect(second).not.toBe(first)
  })
})
