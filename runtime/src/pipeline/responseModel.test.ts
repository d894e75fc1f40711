import { describe, expect, it } from "vitest"
import { modelOfBody, modelOfStreamPayload } from "./responseModel.js"

describe("modelOfBody", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string | undefined]> = [
    ["chat completion", { object: "chat.completion", model: "gpt-4o-mini-2024-07-18" }, "gpt-4o-mini-2024-07-18"],
    ["Anthropic message", { type: "message", model: "claude-sonnet-4-5-20250929" }, "claude-sonnet-4-5-20250929"],
    ["empty model", { model: "" }, undefined],
    ["model not text", { model: 4 }, undefined],
    ["no model", { input_tokens: 12 }, undefined],
    ["not an object", "text", undefined],
    ["undefined body", undefined, undefined]
  ]
  for (const [name, body, expected] of cases) {
    it(name, () => {
      expect(modelOfBody(body)).toBe(expected)
    })
  }
})

describe("modelOfStreamPayload", () => {
  const cases: ReadonlyArray<readonly [string, Parameters<typeof modelOfStreamPayload>[0], unknown, string | undefined]> = [
    ["chat chunk", "chat", { object: "chat.completion.chunk", model: "gpt-4o-mini-2024-07-18" }, "gpt-4o-mini-2024-07-18"],
    ["completions chunk", "completions", { object: "text_completion", model: "gpt-3.5-turbo-instruct" }, "gpt-3.5-turbo-instruct"],
    ["responses lifecycle", "responses", { type: "response.completed", response: { model: "gpt-4.1-2025-04-14" } }, "gpt-4.1-2025-04-14"],
    ["responses delta", "responses", { type: "response.output_text.delta", delta: "Hi" }, undefined],
    ["message_start", "messages", { type: "message_start", message: { model: "claude-sonnet-4-5-20250929" } }, "claude-sonnet-4-5-20250929"],
    ["message_delta", "messages", { type: "message_delta", usage: { output_tokens: 3 } }, undefined],
    ["error payload", "chat", { error: { message: "overloaded" } }, undefined]
  ]
  for (const [name, endpoint, json, expected] of cases) {
    it(name, () => {
      expect(modelOfStreamPayload(endpoint, json)).toBe(expected)
    })
  }
})
