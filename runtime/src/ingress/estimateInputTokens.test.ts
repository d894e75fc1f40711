import { describe, expect, it } from "@effect/vitest"
import type { CountTokensRequest } from "@fluxen/sdk"
import { Effect } from "effect"
import cl100k from "gpt-tokenizer/encoding/cl100k_base"
import o200k from "gpt-tokenizer/encoding/o200k_base"
import { estimateInputTokens } from "./estimateInputTokens.js"

const conversation: CountTokensRequest = {
  model: "gpt-4o-mini",
  system: "You are a terse assistant.",
  messages: [
    { role: "user", content: "Name three prime numbers." },
    { role: "assistant", content: [{ type: "text", text: "2, 3 and 5." }] },
    { role: "user", content: "And three more?" }
  ]
}

// The same conversation as chat messages, which gpt-tokenizer frames as the estimate does.
const chatMessages = [
  { role: "system" as const, content: "You are a terse assistant." },
  { role: "user" as const, content: "Name three prime numbers." },
  { role: "assistant" as const, content: "2, 3 and 5." },
  { role: "user" as const, content: "And three more?" }
]

describe("estimateInputTokens", () => {
  it.live("counts a long prompt in slices", () =>
    Effect.gen(function* () {
      // About 100 slices of ordinary words, so that every cut falls before a space.
      const text = "The quick brown fox jumps over the lazy dog. ".repeat(36_000)
      const request: CountTokensRequest = { model: "anything", messages: [{ role: "user", content: text }] }
      let timerRuns = 0
      const timer = setInterval(() => timerRuns++, 0)

      const tokens = yield* Effect.ensuring(estimateInputTokens(request, "gpt-4o"), Effect.sync(() => clearInterval(timer)))
      const whole = o200k.encodeChat([{ role: "user", content: text }], "gpt-4o").length

      // The event loop ran timers while the count went on.
      expect(timerRuns).toBeGreaterThan(10)
      // Each cut comes before a space, where o200k_base starts a new token anyway.
      expect(tokens).toBe(whole)
    })
  )

  it.effect("matches gpt-tokenizer's chat encoding", () =>
    Effect.gen(function* () {
      const tokens = yield* estimateInputTokens(conversation, "gpt-4o-mini-2024-07-18")

      expect(tokens).toBe(o200k.encodeChat(chatMessages, "gpt-4o").length)
    })
  )

  it.effect("uses the upstream model's encoding", () =>
    Effect.gen(function* () {
      // cl100k_base takes 21 tokens for this text and o200k_base 16.
      const text = "Привет, как дела? Сколько токенов в этом тексте?"
      const request: CountTokensRequest = { model: "anything", messages: [{ role: "user", content: text }] }

      const gpt4 = yield* estimateInputTokens(request, "gpt-4")
      const gpt4o = yield* estimateInputTokens(request, "gpt-4o")

      expect(gpt4 - gpt4o).toBe(cl100k.countTokens(text) - o200k.countTokens(text))
      expect(gpt4 - gpt4o).toBe(5)
    })
  )

  it.effect("counts tool definitions as JSON", () =>
    Effect.gen(function* () {
      const inputSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      const withTool: CountTokensRequest = {
        ...conversation,
        tools: [{ name: "get_weather", description: "Current weather of a city", input_schema: inputSchema }],
        tool_choice: { type: "auto" }
      }
      // The chat tool that the Messages translation makes of the Anthropic tool, in its key order.
      const chatTool = { type: "function", function: { name: "get_weather", parameters: inputSchema, description: "Current weather of a city" } }

      const without = yield* estimateInputTokens(conversation, "gpt-4o")
      const counted = yield* estimateInputTokens(withTool, "gpt-4o")

      expect(counted - without).toBe(o200k.countTokens(JSON.stringify(chatTool)))
    })
  )

  it.effect("counts tool use and results", () =>
    Effect.gen(function* () {
      const request: CountTokensRequest = {
        model: "gpt-4o",
        messages: [
          { role: "user", content: "Weather in Oslo?" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "4 degrees" }] }
        ]
      }
      // user, assistant with one call, tool: three framed messages and the reply's priming.
      const expected = ["user", "Weather in Oslo?", "assistant", "get_weather", '{"city":"Oslo"}', "tool", "4 degrees"]
        .map((text) => o200k.countTokens(text))
        .reduce((total, count) => total + count, 3 * 3 + 3)

      expect(yield* estimateInputTokens(request, "gpt-4o")).toBe(expected)
    })
  )

  it.effect("rejects an Anthropic server tool", () =>
    Effect.gen(function* () {
      const request: CountTokensRequest = { ...conversation, tools: [{ type: "web_search_20250305", name: "web_search" }] }

      const error = yield* Effect.flip(estimateInputTokens(request, "gpt-4o"))

      expect(error._tag).toBe("InvalidRequestError")
      expect(error.param).toBe("tools[0].type")
    })
  )
})
