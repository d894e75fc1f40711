import { describe, expect, it } from "vitest"
import { readFixtureJson } from "../test/support.js"
import { StreamTranslator } from "./StreamTranslator.js"
import { usageAtMessageStart, usageFromAnthropic } from "./usage.js"

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

describe("usageFromAnthropic cache-write lifetimes", () => {
  // A real recording whose 418 cache-write tokens the test splits into 118 5-minute and 300 1-hour ones.
  const recorded = readFixtureJson("cache-read-and-write.json").usage
  const split = { ...recorded, cache_creation: { ephemeral_5m_input_tokens: 118, ephemeral_1h_input_tokens: 300 } }

  it("keeps the 1-hour part", () => {
    expect(usageFromAnthropic(split)).toEqual({
      promptTokens: 1532,
      completionTokens: 33,
      cachedInputTokens: 1111,
      cacheWriteTokens: 418,
      cacheWrite1hTokens: 300,
      reasoningTokens: 0
    })
  })

  it("recorded 5-minute writes: no 1-hour part", () => {
    expect(usageFromAnthropic(recorded).cacheWrite1hTokens).toBe(0)
  })

  it("no split: no 1-hour part", () => {
    const { cache_creation: _omitted, ...unsplit } = recorded
    expect(usageFromAnthropic(unsplit).cacheWriteTokens).toBe(418)
    expect(usageFromAnthropic(unsplit).cacheWrite1hTokens).toBe(0)
  })

  it("split without total: summed", () => {
    const { cache_creation_input_tokens: _omitted, ...splitOnly } = split
    expect(usageFromAnthropic(splitOnly).cacheWriteTokens).toBe(418)
    expect(usageFromAnthropic(splitOnly).promptTokens).toBe(1532)
    expect(usageFromAnthropic(splitOnly).cacheWrite1hTokens).toBe(300)
  })

  it("stream: delta keeps the split", () => {
    const translator = new StreamTranslator({ provider: "anthropic" })
    const start = { ...messageStart, message: { ...messageStart.message, usage: { input_tokens: 12, cache_creation_input_tokens: 418, cache_creation: split.cache_creation, output_tokens: 1 } } }

    translator.push(start as never)
    translator.push({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { cache_creation_input_tokens: 418, output_tokens: 30 } } as never)

    expect(translator.usage).toMatchObject({ promptTokens: 430, cacheWriteTokens: 418, cacheWrite1hTokens: 300, completionTokens: 30 })
  })
})
