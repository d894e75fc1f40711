import type { ChatMessage } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import { trimHistory } from "./trimHistory.js"

// Every message costs 10 tokens, so budgets read as message counts.
const tenEach = () => 10

const user = (content: string): ChatMessage => ({ role: "user", content })
const assistant = (content: string): ChatMessage => ({ role: "assistant", content })
const system = (content: string): ChatMessage => ({ role: "system", content })

describe("trimHistory", () => {
  it("returns the messages unchanged within budget", () => {
    const messages = [system("s"), user("u1"), assistant("a1"), user("u2")]
    const result = trimHistory(messages, 40, tenEach, 0)
    expect(result.messages).toBe(messages)
    expect(result.removed).toBe(0)
    expect(result.tokensAfter).toBe(40)
  })

  it("keeps system messages and the latest turns", () => {
    const messages = [system("s"), user("u1"), assistant("a1"), user("u2"), assistant("a2"), user("u3")]
    const result = trimHistory(messages, 40, tenEach, 0)
    expect(result.messages.map((message) => message.content)).toEqual(["s", "u2", "a2", "u3"])
    expect(result.removed).toBe(2)
    expect(result.tokensBefore).toBe(60)
    expect(result.tokensAfter).toBe(40)
    expect(result.overBudget).toBe(false)
  })

  it("drops whole turns, never half of one", () => {
    const messages = [user("u1"), assistant("a1"), user("u2"), assistant("a2"), user("u3")]
    // Room for two and a half messages: u3 fits, and the u2 turn (u2, a2) is dropped rather than cut.
    const result = trimHistory(messages, 25, tenEach, 0)
    expect(result.messages.map((message) => message.content)).toEqual(["u3"])
    expect(result.removed).toBe(4)
  })

  it("keeps a tool result with the call that asked for it", () => {
    const call: ChatMessage = {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]
    }
    const result: ChatMessage = { role: "tool", tool_call_id: "call_1", content: "18 °C" }
    const messages = [user("old"), assistant("old answer"), user("weather?"), call, result, assistant("It is 18 °C."), user("thanks")]
    const trimmed = trimHistory(messages, 50, tenEach, 0)
    expect(trimmed.messages).toEqual([user("weather?"), call, result, assistant("It is 18 °C."), user("thanks")])
  })

  it("keeps system messages wherever they are", () => {
    const messages = [system("s1"), user("u1"), system("s2"), assistant("a1"), user("u2")]
    const result = trimHistory(messages, 30, tenEach, 0)
    expect(result.messages.map((message) => message.content)).toEqual(["s1", "s2", "u2"])
  })

  it("counts fixed tokens against the budget", () => {
    const messages = [user("u1"), assistant("a1"), user("u2")]
    const result = trimHistory(messages, 30, tenEach, 15)
    expect(result.messages.map((message) => message.content)).toEqual(["u2"])
    expect(result.tokensAfter).toBe(25)
  })

  it("keeps the latest turn even over budget", () => {
    const messages = [user("u1"), assistant("a1"), user("u2")]
    const result = trimHistory(messages, 5, tenEach, 0)
    expect(result.messages.map((message) => message.content)).toEqual(["u2"])
    expect(result.overBudget).toBe(true)
  })

  it("treats messages before the first user message as a turn", () => {
    const messages = [assistant("greeting"), user("u1"), assistant("a1"), user("u2")]
    const result = trimHistory(messages, 30, tenEach, 0)
    expect(result.messages.map((message) => message.content)).toEqual(["u1", "a1", "u2"])
  })
})
