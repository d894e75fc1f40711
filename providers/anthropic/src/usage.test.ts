import { describe, expect, it } from "vitest"
import { StreamTranslator } from "./StreamTranslator.js"
import { usageAtMessageStart } from "./usage.js"

const messageStart = {
  type: "message_start",
  message: { id: "msg_1", type: "message", role: "assistant", model: "claude-x", content: [], usage: { input_tokens: 12, cache_read_input_tokens: 30, output_tokens: 2 } }
} as const

describe("usage at message_start", () => {
  it("drops the placeholder output count", () => {
    expect(usageAtMessageStart({ input_tokens: 12, output_tokens: 2 })).toEqual({ input_tokens: 12, output_tokens: 0 })
    expect(usageAtMessageStart(undefined)).toEqual({ output_tokens: 0 })
  })

  it("stream: no output until message_delta", () => {
    const translator = new StreamTranslator({ provider: "anthropic" })

    translator.push(messageStart as never)
    expect(translator.usage).toMatchObject({ promptTokens: 42, cachedInputTokens: 30, completionTokens: 0 })

    translator.push({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 57 } } as never)
    expect(translator.usage).toMatchObject({ promptTokens: 42, completionTokens: 57 })
  })
})
