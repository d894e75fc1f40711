import { describe, expect, it } from "vitest"
import { ToolCallDeltaFields } from "./ToolCallDeltaFields.js"

const chunk = (calls: ReadonlyArray<Record<string, unknown>>, choiceIndex = 0) => ({
  choices: [{ index: choiceIndex, delta: { tool_calls: calls.map((call) => ({ ...call })) }, finish_reason: null }]
})

const callsOf = (value: ReturnType<typeof chunk>) => value.choices[0]!.delta.tool_calls

describe("ToolCallDeltaFields", () => {
  it("whole call: index and type", () => {
    const fields = new ToolCallDeltaFields()
    const first = chunk([{ id: "a1", function: { name: "weather", arguments: "{}" } }])

    expect(fields.fill(first)).toBe(true)
    expect(callsOf(first)).toEqual([{ id: "a1", index: 0, type: "function", function: { name: "weather", arguments: "{}" } }])
  })

  it("later calls: next indexes", () => {
    const fields = new ToolCallDeltaFields()
    const first = chunk([{ id: "a1" }, { id: "a2" }])
    const later = chunk([{ id: "a3" }])
    fields.fill(first)
    fields.fill(later)

    expect(callsOf(first).map((call) => call["index"])).toEqual([0, 1])
    expect(callsOf(later).map((call) => call["index"])).toEqual([2])
  })

  it("delta without id: continues last call", () => {
    const fields = new ToolCallDeltaFields()
    fields.fill(chunk([{ id: "a1" }, { id: "a2" }]))
    const rest = chunk([{ function: { arguments: "}" } }])

    fields.fill(rest)
    expect(callsOf(rest)).toEqual([{ index: 1, function: { arguments: "}" } }])
  })

  it("complete deltas: left unchanged", () => {
    const fields = new ToolCallDeltaFields()
    const openAI = chunk([{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "" } }])

    expect(fields.fill(openAI)).toBe(false)
    expect(fields.fill({ choices: [{ index: 0, delta: { content: "hi" } }] })).toBe(false)
    expect(fields.fill(null)).toBe(false)
  })

  it("choices: counted apart", () => {
    const fields = new ToolCallDeltaFields()
    fields.fill(chunk([{ id: "a1" }], 0))
    const second = chunk([{ id: "b1" }], 1)

    fields.fill(second)
    expect(callsOf(second)[0]!["index"]).toBe(0)
  })
})
