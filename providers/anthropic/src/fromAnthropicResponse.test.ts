import { describe, expect, it } from "@effect/vitest"
import { usageFromOpenAI } from "@fluxen/sdk"
import { readFixtureJson } from "../test/support.js"
import { finishReasonByStopReason, stopReasonByFinishReason, toFinishReason, toStopReason } from "./finishReasons.js"
import { fromAnthropicResponse, isMessageResponse } from "./fromAnthropicResponse.js"
import { usageFromAnthropic, usageToAnthropic, usageToChatCompletionUsage } from "./usage.js"

describe("fromAnthropicResponse on recordings", () => {
  it("text.json", () => {
    const completion = fromAnthropicResponse(readFixtureJson("text.json"), { created: 1700000000 })
    expect(completion).toEqual({
      id: "msg_01VdEjxAP5ahtHKrrRdNBteQ",
      object: "chat.completion",
      created: 1700000000,
      model: "claude-sonnet-4-5-20250929",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?",
            refusal: null
          },
          finish_reason: "stop",
          logprobs: null
        }
      ],
      usage: {
        prompt_tokens: 12,
        completion_tokens: 29,
        total_tokens: 41,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 }
      }
    })
  })

  it("text-and-tool-use.json", () => {
    const completion = fromAnthropicResponse(readFixtureJson("text-and-tool-use.json"))
    const choice = completion.choices[0]!
    expect(choice.message.content).toMatch(/^<thinking>\nThe updateIssueList tool/)
    expect(choice.message.content).toMatch(/Okay, I will update the current issue list:$/)
    expect(choice.message.tool_calls).toEqual([
      { id: "toolu_01LRmxn9vGM1d2DZSDBowdZ1", type: "function", function: { name: "updateIssueList", arguments: "{}" } }
    ])
    expect(choice.finish_reason).toBe("tool_calls")
    expect(completion.usage).toMatchObject({ prompt_tokens: 602, completion_tokens: 93, total_tokens: 695 })
  })

  it("cache-read-and-write.json", () => {
    const body = readFixtureJson("cache-read-and-write.json")
    const completion = fromAnthropicResponse(body)
    expect(completion.usage).toEqual({
      prompt_tokens: 3 + 1111 + 418,
      completion_tokens: 33,
      total_tokens: 3 + 1111 + 418 + 33,
      prompt_tokens_details: { cached_tokens: 1111, cache_write_tokens: 418, cache_write_1h_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 }
    })
    expect(usageFromAnthropic(body.usage)).toEqual({
      promptTokens: 1532,
      completionTokens: 33,
      cachedInputTokens: 1111,
      cacheWriteTokens: 418,
      cacheWrite1hTokens: 0,
      reasoningTokens: 0
    })
  })

  it("OpenAI usage reads back canonical usage", () => {
    const canonical = usageFromAnthropic(readFixtureJson("cache-read-and-write.json").usage)
    expect(usageFromOpenAI(usageToChatCompletionUsage(canonical))).toEqual(canonical)
  })

  it("Anthropic usage round trip", () => {
    const raw = readFixtureJson("cache-read-and-write.json").usage
    expect(usageToAnthropic(usageFromAnthropic(raw))).toEqual({
      input_tokens: 3,
      cache_creation_input_tokens: 418,
      cache_read_input_tokens: 1111,
      output_tokens: 33
    })
  })

  it("recordings are message responses", () => {
    for (const name of ["text.json", "text-and-tool-use.json", "cache-read-and-write.json"]) {
      expect(isMessageResponse(readFixtureJson(name))).toBe(true)
    }
    expect(isMessageResponse(readFixtureJson("error-400-invalid-request.json"))).toBe(false)
  })
})

describe("fromAnthropicResponse thinking", () => {
  const message = {
    id: "msg_1",
    type: "message" as const,
    role: "assistant" as const,
    model: "claude-x",
    content: [
      { type: "thinking", thinking: "Step one.", signature: "sig-a" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "text", text: "Answer" },
      { type: "tool_use", id: "toolu_1", name: "calc", input: { x: 1 } },
      { type: "server_tool_use", id: "srv_1", name: "web_search", input: {} }
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 20 }
  }

  it("reasoning_content and thinking_blocks", () => {
    const choice = fromAnthropicResponse(message).choices[0]!
    expect(choice.message.reasoning_content).toBe("Step one.")
    expect(choice.message.thinking_blocks).toEqual([
      { type: "thinking", thinking: "Step one.", signature: "sig-a" },
      { type: "redacted_thinking", data: "opaque" }
    ])
    expect(choice.message.content).toBe("Answer")
    expect(choice.message.tool_calls).toEqual([{ id: "toolu_1", type: "function", function: { name: "calc", arguments: '{"x":1}' } }])
  })

  it("no text gives null content", () => {
    const choice = fromAnthropicResponse({ ...message, content: [{ type: "tool_use", id: "t", name: "f", input: {} }] }).choices[0]!
    expect(choice.message.content).toBeNull()
    expect(choice.message.reasoning_content).toBeUndefined()
    expect(choice.message.thinking_blocks).toBeUndefined()
  })
})

describe("finish reasons", () => {
  const table: ReadonlyArray<readonly [string | null, string | null]> = [
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    ["some_future_reason", "stop"],
    [null, null]
  ]
  for (const [stopReason, finishReason] of table) {
    it(`${stopReason} → ${finishReason}`, () => {
      expect(toFinishReason(stopReason)).toBe(finishReason)
    })
  }

  it("reverse table", () => {
    expect(toStopReason("stop")).toBe("end_turn")
    expect(toStopReason("length")).toBe("max_tokens")
    expect(toStopReason("tool_calls")).toBe("tool_use")
    expect(toStopReason("function_call")).toBe("tool_use")
    expect(toStopReason("content_filter")).toBe("refusal")
    expect(toStopReason(null)).toBeNull()
    expect(toStopReason("toString")).toBeNull()
  })

  it("tables agree both ways", () => {
    for (const [finishReason, stopReason] of Object.entries(stopReasonByFinishReason)) {
      if (finishReason === "function_call") continue
      expect(finishReasonByStopReason[stopReason]).toBe(finishReason)
    }
  })
})
