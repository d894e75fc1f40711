import { describe, expect, it } from "vitest"
import { makeRequestContext } from "./PluginHarness.js"

const request = { model: "gpt-4o", messages: [{ role: "user" as const, content: "Hi" }] }

describe("makeRequestContext", () => {
  it("sets the given caller", () => {
    const context = makeRequestContext({ request, caller: { keyId: "key_1", team: "interns", metadata: { tier: "free" } } })

    expect(context.caller.keyId).toBe("key_1")
    expect(context.caller.team).toBe("interns")
    expect(context.caller.metadata).toEqual({ tier: "free" })
  })

  it("partial caller keeps defaults", () => {
    const context = makeRequestContext({ request, caller: { team: "interns" } })

    expect(context.caller.keyId).toBeNull()
    expect(context.caller.metadata).toEqual({})
    expect(makeRequestContext({ request }).caller).toEqual({ keyId: null, team: null, metadata: {} })
  })
})
