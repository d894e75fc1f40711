import o200k from "gpt-tokenizer/encoding/o200k_base"
import { describe, expect, it } from "vitest"
import type { CanonicalRequest } from "../Hooks.js"
import { MESSAGE_FRAMING_TOKENS, promptTextOf, REPLY_PRIMING_TOKENS } from "./PromptText.js"

describe("promptTextOf", () => {
  it("matches gpt-tokenizer's chat encoding", () => {
    const messages = [
      { role: "system" as const, content: "You are a terse assistant." },
      { role: "user" as const, content: "Name three prime numbers." },
      { role: "assistant" as const, content: "2, 3 and 5." },
      { role: "user" as const, content: [{ type: "text", text: "And three more?" }] }
    ]
    const prompt = promptTextOf("chat", { model: "gpt-4o", messages })
    const expected = o200k.encodeChat(
      messages.map((message) => ({
        role: message.role,
        content: typeof message.content === "string" ? message.content : "And three more?"
      })),
      "gpt-4o"
    ).length

    expect(prompt).toBeDefined()
    const counted = prompt!.texts.reduce((total, text) => total + o200k.countTokens(text), 0)
    expect(counted + prompt!.fixedTokens).toBe(expected)
  })

  it("reads names, tool calls and tool definitions", () => {
    const tool = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }
    const request: CanonicalRequest = {
      model: "gpt-4o",
      messages: [
        { role: "user", name: "ana", content: "Weather in Oslo?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "{\"celsius\":4}" }
      ],
      tools: [tool]
    }

    const prompt = promptTextOf("chat", request)

    expect(prompt?.texts).toEqual([
      "user", "ana", "Weather in Oslo?",
      "assistant", "get_weather", "{\"city\":\"Oslo\"}",
      "tool", "{\"celsius\":4}",
      JSON.stringify(tool)
    ])
    expect(prompt?.fixedTokens).toBe(3 * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("counts token-id inputs one token each", () => {
    expect(promptTextOf("embeddings", { model: "text-embedding-3-small", input: [[1, 2, 3], [4, 5]] })).toEqual({ texts: [], fixedTokens: 5 })
    expect(promptTextOf("embeddings", { model: "text-embedding-3-small", input: ["a", "b"] })).toEqual({ texts: ["a", "b"], fixedTokens: 0 })
    expect(promptTextOf("completions", { model: "gpt-3.5-turbo-instruct", prompt: [7, 8, 9] })).toEqual({ texts: [], fixedTokens: 3 })
    expect(promptTextOf("completions", { model: "gpt-3.5-turbo-instruct", prompt: "Say hi" })).toEqual({ texts: ["Say hi"], fixedTokens: 0 })
  })

  it("reads Responses instructions, input items and tools", () => {
    const request = {
      model: "gpt-5",
      instructions: "Be brief.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "Add 2 and 3." }] },
        { type: "function_call", call_id: "c1", name: "add", arguments: "{\"a\":2,\"b\":3}" },
        { type: "function_call_output", call_id: "c1", output: "5" }
      ],
      tools: [{ type: "function", name: "add" }]
    }

    const prompt = promptTextOf("responses", request)

    expect(prompt?.texts).toEqual(["Be brief.", "user", "Add 2 and 3.", "add", "{\"a\":2,\"b\":3}", "5", "{\"type\":\"function\",\"name\":\"add\"}"])
    expect(prompt?.fixedTokens).toBe(4 * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("reads a Messages body", () => {
    const tool = { name: "get_weather", input_schema: { type: "object" } }
    const request = {
      model: "claude-sonnet-4-5",
      max_tokens: 64,
      system: [{ type: "text", text: "Be brief." }],
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: [{ type: "text", text: "Checking." }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "4C" }] }, { type: "image", source: {} }] }
      ],
      tools: [tool]
    } as unknown as CanonicalRequest

    const prompt = promptTextOf("messages", request)

    expect(prompt?.texts).toEqual([
      "Be brief.",
      "user", "Weather in Oslo?",
      "assistant", "Checking.", "get_weather", "{\"city\":\"Oslo\"}",
      "user", "4C",
      JSON.stringify(tool)
    ])
    expect(prompt?.fixedTokens).toBe(4 * MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("counts no framing for null system", () => {
    const request = { model: "claude-sonnet-4-5", max_tokens: 64, system: null, tools: null, messages: [{ role: "user", content: "Hi" }] } as unknown as CanonicalRequest

    const prompt = promptTextOf("messages", request)

    expect(prompt?.texts).toEqual(["user", "Hi"])
    expect(prompt?.fixedTokens).toBe(MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS)
  })

  it("skips the count_tokens endpoint", () => {
    expect(promptTextOf("count_tokens", { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] })).toBeUndefined()
  })
})
