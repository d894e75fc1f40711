import type { ChatCompletionChunk, StreamEvent } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import { StreamTranslator } from "./StreamTranslator.js"

const NOW = Date.parse("2025-01-02T03:04:05Z")

const translator = () => new StreamTranslator({ provider: "gemini", model: "gemini-2.5-flash", now: () => NOW })

const chunkOf = (events: Array<StreamEvent>): ChatCompletionChunk => {
  expect(events).toHaveLength(1)
  return events[0]!.json as ChatCompletionChunk
}

const candidate = (index: number | undefined, parts: Array<object>, finishReason?: string) => ({
  content: { role: "model", parts },
  ...(index !== undefined ? { index } : {}),
  ...(finishReason !== undefined ? { finishReason } : {})
})

describe("StreamTranslator", () => {
  it("chunk metadata from the first event", () => {
    const stream = translator()
    const chunk = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "Hi" }])], responseId: "r1" }))

    expect(chunk).toEqual({
      id: "chatcmpl-r1",
      object: "chat.completion.chunk",
      created: Math.floor(NOW / 1000),
      model: "gemini-2.5-flash",
      choices: [{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }]
    })
  })

  it("thoughts become reasoning_content", () => {
    const stream = translator()
    const first = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "Let me think.", thought: true }])] }))
    const second = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "More.", thought: true }, { text: "Answer" }], "STOP")] }))

    expect(first.choices[0]!.delta).toEqual({ role: "assistant", content: "", reasoning_content: "Let me think." })
    expect(second.choices[0]!.delta).toEqual({ content: "Answer", reasoning_content: "More." })
    expect(second.choices[0]!.finish_reason).toBe("stop")
  })

  it("tool calls keep indexes and ids", () => {
    const stream = translator()
    const first = chunkOf(
      stream.push({
        candidates: [candidate(0, [{ functionCall: { name: "a", args: { x: 1 } } }, { functionCall: { name: "b" } }])]
      })
    )
    const second = chunkOf(stream.push({ candidates: [candidate(0, [{ functionCall: { id: "given", name: "c", args: {} } }])] }))
    const last = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "" }], "STOP")] }))

    expect(first.choices[0]!.delta).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        { index: 0, id: expect.stringMatching(/^call_0_[0-9a-f]{12}$/), type: "function", function: { name: "a", arguments: '{"x":1}' } },
        { index: 1, id: expect.stringMatching(/^call_1_[0-9a-f]{12}$/), type: "function", function: { name: "b", arguments: "{}" } }
      ]
    })
    const [call0, call1] = first.choices[0]!.delta.tool_calls!
    expect(call0!.id!.slice("call_0".length)).toBe(call1!.id!.slice("call_1".length))
    expect(second.choices[0]!.delta).toEqual({
      tool_calls: [{ index: 2, id: "given", type: "function", function: { name: "c", arguments: "{}" } }]
    })
    expect(last.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: "tool_calls" })
  })

  it("several candidates", () => {
    const stream = translator()
    const first = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "A" }]), candidate(1, [{ text: "B" }])] }))
    const second = chunkOf(stream.push({ candidates: [candidate(1, [{ text: "b" }], "STOP")] }))
    expect(() => stream.finish()).toThrow(/ended before completion/)
    const third = chunkOf(stream.push({ candidates: [candidate(0, [{ text: "a" }], "MAX_TOKENS")] }))

    expect(first.choices.map((choice) => [choice.index, choice.delta.content])).toEqual([
      [0, "A"],
      [1, "B"]
    ])
    expect(second.choices).toEqual([{ index: 1, delta: { content: "b" }, finish_reason: "stop" }])
    expect(third.choices).toEqual([{ index: 0, delta: { content: "a" }, finish_reason: "length" }])
    expect(stream.finish().at(-1)).toEqual({ data: "[DONE]", done: true })
  })

  it("Vertex candidates without index", () => {
    const stream = translator()
    const chunk = chunkOf(stream.push({ candidates: [candidate(undefined, [{ text: "x" }], "STOP")], createTime: "2025-10-10T15:55:50Z" }))
    expect(chunk.choices[0]!.index).toBe(0)
    expect(chunk.created).toBe(Math.floor(Date.parse("2025-10-10T15:55:50Z") / 1000))
  })

  it("usage-only events emit no chunk", () => {
    const stream = translator()
    stream.push({ candidates: [candidate(0, [{ text: "x" }], "STOP")], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1 } })
    expect(stream.push({ usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 } })).toEqual([])
    expect(stream.usage).toEqual({ promptTokens: 3, completionTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
  })

  it("events without usage keep the last", () => {
    const stream = translator()
    const events = stream.push({ candidates: [candidate(0, [{ text: "x" }])], usageMetadata: { promptTokenCount: 3 } })
    const later = stream.push({ candidates: [candidate(0, [{ text: "y" }], "STOP")] })

    expect(events[0]!.usage).toEqual(later[0]!.usage)
    expect(later[0]!.usage?.promptTokens).toBe(3)
  })

  it("no usage, no usage chunk", () => {
    const stream = translator()
    stream.push({ candidates: [candidate(0, [{ text: "x" }], "STOP")] })
    expect(stream.finish()).toEqual([{ data: "[DONE]", done: true }])
  })

  it("nothing received", () => {
    expect(() => translator().finish()).toThrow(expect.objectContaining({ _tag: "UpstreamUnreachableError" }))
  })

  it("wrong shape", () => {
    expect(() => translator().push({ candidates: "no" })).toThrow(expect.objectContaining({ _tag: "UpstreamProtocolError" }))
  })
})
