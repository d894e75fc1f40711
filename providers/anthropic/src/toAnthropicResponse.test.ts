import { describe, expect, it } from "@effect/vitest"
import { UpstreamProtocolError, type ChatCompletion } from "@fluxen/sdk"
import { Effect, Either } from "effect"
import { readFileSync } from "node:fs"
import { readFixtureJson } from "../test/support.js"
import { fromAnthropicResponse } from "./fromAnthropicResponse.js"
import { toAnthropicResponse } from "./toAnthropicResponse.js"

const translate = (completion: ChatCompletion) => Effect.runSync(Effect.either(toAnthropicResponse(completion, { provider: "upstream-test" })))

const translated = (completion: ChatCompletion) => {
  const result = translate(completion)
  if (Either.isLeft(result)) throw new Error(`expected a translation, got: ${result.left.message}`)
  return result.right
}

const openAIFixture = (name: string): ChatCompletion =>
  JSON.parse(readFileSync(new URL(`../../../../shared/fixtures/openai/chat-completions/${name}`, import.meta.url), "utf8"))

describe("toAnthropicResponse", () => {
  it("OpenAI text.json", () => {
    const completion = openAIFixture("text.json")
    const message = translated(completion)
    expect(message.type).toBe("message")
    expect(message.role).toBe("assistant")
    expect(message.id).toBe("msg_D8Z5f52zQqikDBEKQMQoYcWMcWPeU")
    expect(message.model).toBe(completion.model)
    expect(message.content).toEqual([{ type: "text", text: completion.choices[0]!.message.content }])
    expect(message.stop_reason).toBe("end_turn")
    expect(message.stop_sequence).toBeNull()
    const usage = completion.usage!
    expect(message.usage).toEqual({
      input_tokens: usage.prompt_tokens - (usage.prompt_tokens_details?.cached_tokens ?? 0),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
      output_tokens: usage.completion_tokens
    })
  })

  it("OpenAI tool-call.json", () => {
    const completion = openAIFixture("tool-call.json")
    const call = completion.choices[0]!.message.tool_calls![0]!
    const message = translated(completion)
    expect(message.content).toEqual([{ type: "tool_use", id: call.id, name: call.function.name, input: JSON.parse(call.function.arguments) }])
    expect(message.stop_reason).toBe("tool_use")
    expect(message.usage.output_tokens).toBe(completion.usage!.completion_tokens)
  })

  const anthropicFixtures = ["text.json", "text-and-tool-use.json", "cache-read-and-write.json"]
  for (const fixture of anthropicFixtures) {
    it(`${fixture} round trip`, () => {
      const original = readFixtureJson(fixture)
      const message = translated(fromAnthropicResponse(original))
      expect(message.content).toEqual(original.content)
      expect(message.stop_reason).toBe(original.stop_reason)
      expect(message.usage).toEqual({
        input_tokens: original.usage.input_tokens,
        cache_creation_input_tokens: original.usage.cache_creation_input_tokens,
        cache_read_input_tokens: original.usage.cache_read_input_tokens,
        output_tokens: original.usage.output_tokens
      })
    })
  }

  it("thinking blocks come first", () => {
    const message = translated(
      fromAnthropicResponse({
        id: "msg_1",
        type: "message",
        role: "assistant",
        model: "claude-x",
        content: [
          { type: "thinking", thinking: "Hmm.", signature: "sig" },
          { type: "redacted_thinking", data: "opaque" },
          { type: "text", text: "Answer" }
        ],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 1, output_tokens: 2 }
      })
    )
    expect(message.content).toEqual([
      { type: "thinking", thinking: "Hmm.", signature: "sig" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "text", text: "Answer" }
    ])
  })

  it("unsigned reasoning becomes thinking", () => {
    const completion = openAIFixture("text.json")
    const withReasoning = {
      ...completion,
      choices: [{ ...completion.choices[0]!, message: { ...completion.choices[0]!.message, reasoning_content: "Because." } }]
    }
    expect(translated(withReasoning).content[0]).toEqual({ type: "thinking", thinking: "Because.", signature: "" })
  })

  it("tool call signature in id", () => {
    const completion = openAIFixture("tool-call.json")
    const call = completion.choices[0]!.message.tool_calls![0]!
    const signed = {
      ...completion,
      choices: [
        {
          ...completion.choices[0]!,
          message: { ...completion.choices[0]!.message, tool_calls: [{ ...call, extra_content: { google: { thought_signature: "EqUC+/9=" } } }] }
        }
      ]
    }
    const toolUse = translated(signed).content.find((block) => block.type === "tool_use")
    expect(toolUse).toMatchObject({ type: "tool_use", id: `${call.id}__thought_signature__RXFVQysvOT0`, name: call.function.name })
  })

  it("invalid tool arguments fail", () => {
    const completion = openAIFixture("tool-call.json")
    const call = completion.choices[0]!.message.tool_calls![0]!
    const broken = {
      ...completion,
      choices: [
        { ...completion.choices[0]!, message: { ...completion.choices[0]!.message, tool_calls: [{ ...call, function: { ...call.function, arguments: '{"city":' } }] } }
      ]
    }
    const result = translate(broken)
    if (Either.isRight(result)) throw new Error("expected a failure")
    expect(result.left).toBeInstanceOf(UpstreamProtocolError)
    expect(result.left.message).toContain(call.id)
  })
})
