import { describe, expect, it } from "vitest"
import { ChatStreamAssembler } from "./ChatStreamAssembler.js"
import type { ChatCompletionChunk } from "./ChatResponse.js"

const chunk = (delta: Record<string, unknown>, finishReason: ChatCompletionChunk["choices"][number]["finish_reason"] = null): ChatCompletionChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1_770_000_000,
  model: "m",
  choices: [{ index: 0, delta, finish_reason: finishReason }]
})

const assemble = (chunks: ReadonlyArray<ChatCompletionChunk>) => {
  const assembler = new ChatStreamAssembler()
  for (const added of chunks) assembler.add(added)
  return assembler.toCompletion().choices[0]!.message as Record<string, any>
}

describe("ChatStreamAssembler extra fields", () => {
  it("concatenates streamed reasoning text", () => {
    const message = assemble([
      chunk({ role: "assistant", reasoning_content: "First, " }),
      chunk({ reasoning_content: "then." }),
      chunk({ reasoning: "Open" }),
      chunk({ reasoning: "Router" }),
      chunk({ content: "Done." }, "stop")
    ])

    expect(message.reasoning_content).toBe("First, then.")
    expect(message.reasoning).toBe("OpenRouter")
    expect(message.content).toBe("Done.")
  })

  it("adds up list entries", () => {
    const message = assemble([
      chunk({ thinking_blocks: [{ type: "thinking", thinking: "a", signature: "s1" }] }),
      chunk({ reasoning_details: [{ type: "reasoning.text", text: "x" }] }),
      chunk({ reasoning_details: [{ type: "reasoning.text", text: "y" }] }, "stop")
    ])

    expect(message.thinking_blocks).toEqual([{ type: "thinking", thinking: "a", signature: "s1" }])
    expect(message.reasoning_details).toEqual([
      { type: "reasoning.text", text: "x" },
      { type: "reasoning.text", text: "y" }
    ])
  })

  it("keeps the last object value", () => {
    const message = assemble([
      chunk({ extra_content: { google: { thought_signature: "old" } } }),
      chunk({ extra_content: { google: { thought_signature: "new" } } }, "stop")
    ])

    expect(message.extra_content).toEqual({ google: { thought_signature: "new" } })
  })

  it("keeps tool call extra fields", () => {
    const signature = { google: { thought_signature: "c2ln" } }
    const message = assemble([
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "weather", arguments: "" }, extra_content: signature }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }, "tool_calls")
    ])

    expect(message.tool_calls).toEqual([{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' }, extra_content: signature }])
  })
})
