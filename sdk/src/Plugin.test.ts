import { describe, expect, it } from "vitest"
import { isRoutableModel } from "./Plugin.js"

const context = { configDirectory: "/etc", models: ["fast", "team/alias"], providers: ["openai", "local"] }

describe("isRoutableModel", () => {
  it.each([
    ["fast", true],
    ["team/alias", true],
    ["openai/gpt-4o", true],
    ["local/llama/3", true],
    ["slow", false],
    ["azure/gpt-4o", false],
    ["openai/", false],
    ["/gpt-4o", false]
  ])("routes %s: %s", (model, expected) => {
    expect(isRoutableModel(model, context)).toBe(expected)
  })

  it("unknown without model names", () => {
    expect(isRoutableModel("fast", { configDirectory: "/etc" })).toBeUndefined()
  })
})
