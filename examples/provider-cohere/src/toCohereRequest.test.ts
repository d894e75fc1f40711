/**
 * The translation of a chat request to Cohere's body, for the optional
 * fields that clients send as `null` to mean absent.
 */
import type { ChatRequest } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import { toCohereRequest } from "./toCohereRequest.js"

describe("toCohereRequest", () => {
  it("treats null fields as absent", () => {
    const request: ChatRequest = {
      model: "command-a",
      messages: [
        { role: "user", content: "Say hello." },
        { role: "assistant", content: "Hello.", tool_calls: null }
      ],
      tools: null,
      tool_choice: null,
      response_format: null,
      temperature: null
    }

    expect(toCohereRequest(request, "command-a-03-2025", false)).toEqual({
      model: "command-a-03-2025",
      messages: [
        { role: "user", content: "Say hello." },
        { role: "assistant", content: "Hello." }
      ],
      stream: false
    })
  })

  it("keeps a tool without a description", () => {
    const request: ChatRequest = {
      model: "command-a",
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{ type: "function", function: { name: "weather", description: null, parameters: { type: "object" } } }]
    }

    expect(toCohereRequest(request, "command-a-03-2025", false).tools).toEqual([
      { type: "function", function: { name: "weather", parameters: { type: "object" } } }
    ])
  })
})
