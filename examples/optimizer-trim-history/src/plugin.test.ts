import type { ChatMessage, ChatRequest } from "@fluxen/sdk"
import { buildPlugin, makeRequestContext, runHookConformance } from "@fluxen/sdk/testing"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import plugin, { TRIMMED_ATTRIBUTE, TRIMMED_HEADER } from "./index.js"

runHookConformance({ describe, it, expect, afterAll }, { plugin, config: { maxPromptTokens: 1_000 }, timeoutMs: 1_000 })

// About 60 tokens per message with o200k_base.
const paragraph = (turn: number) => `Turn ${turn}: ${"the quick brown fox jumps over the lazy dog ".repeat(6)}`

const longConversation = (turns: number): Array<ChatMessage> => {
  const messages: Array<ChatMessage> = [{ role: "system", content: "You are a concise assistant." }]
  for (let turn = 1; turn <= turns; turn++) {
    messages.push({ role: "user", content: paragraph(turn) })
    if (turn < turns) messages.push({ role: "assistant", content: `Answer ${turn}.` })
  }
  return messages
}

describe("trim-history beforeRequest", () => {
  it("trims a long chat to the budget and reports it", async () => {
    const built = await buildPlugin(plugin, { maxPromptTokens: 300 })
    try {
      const request: ChatRequest = { model: "command-a", messages: longConversation(20) }
      const context = makeRequestContext({ request })

      const decision = await Effect.runPromise(built.instance.hooks!.beforeRequest!(context))

      expect(decision).toBeUndefined()
      const trimmed = (context.request as ChatRequest).messages
      expect(trimmed[0]).toEqual({ role: "system", content: "You are a concise assistant." })
      expect(trimmed[trimmed.length - 1]).toEqual({ role: "user", content: paragraph(20) })
      expect(trimmed.length).toBeLessThan(request.messages.length)
      const removed = request.messages.length - trimmed.length
      expect(context.responseHeaders[TRIMMED_HEADER]).toBe(String(removed))
      expect(context.attributes.get(TRIMMED_ATTRIBUTE)).toBe(removed)
    } finally {
      await built.close()
    }
  })

  it("uses the model's own budget when configured", async () => {
    const built = await buildPlugin(plugin, { maxPromptTokens: 300, models: { "big-model": 100_000 } })
    try {
      const request: ChatRequest = { model: "big-model", messages: longConversation(20) }
      const context = makeRequestContext({ request })

      await Effect.runPromise(built.instance.hooks!.beforeRequest!(context))

      expect(context.request).toBe(request)
      expect(context.responseHeaders[TRIMMED_HEADER]).toBeUndefined()
    } finally {
      await built.close()
    }
  })

  it("leaves other endpoints alone", async () => {
    const built = await buildPlugin(plugin, { maxPromptTokens: 1 })
    try {
      const request = { model: "embed-v4.0", input: ["some text"] }
      const context = makeRequestContext({ request, endpoint: "embeddings" })

      await Effect.runPromise(built.instance.hooks!.beforeRequest!(context))

      expect(context.request).toBe(request)
    } finally {
      await built.close()
    }
  })

  it("rejects a config without maxPromptTokens", async () => {
    await expect(buildPlugin(plugin, {})).rejects.toThrow(/maxPromptTokens/)
  })
})
