import { describe, expect, it } from "@effect/vitest"
import { ChatRequest, InvalidRequestError, type MessagesRequest } from "@fluxen/sdk"
import { Effect, Either, Schema } from "effect"
import { fromAnthropicRequest } from "./fromAnthropicRequest.js"
import { toAnthropicRequest } from "./toAnthropicRequest.js"

const translate = (request: Record<string, unknown>) =>
  Effect.runSync(Effect.either(fromAnthropicRequest({ model: "claude", max_tokens: 1000, messages: [], ...request } as MessagesRequest)))

const translated = (request: Record<string, unknown>): Record<string, any> => {
  const result = translate(request)
  if (Either.isLeft(result)) throw new Error(`expected a translation, got: ${result.left.message}`)
  return result.right
}

interface Case {
  readonly name: string
  readonly request: Record<string, unknown>
  readonly expected: Record<string, unknown>
}

// "call_0_abc" with the thought signature "EqUC+/9=", as toAnthropicResponse writes it.
const SIGNED_ID = "call_0_abc__thought_signature__RXFVQysvOT0"

const cases: ReadonlyArray<Case> = [
  {
    name: "minimal",
    request: { messages: [{ role: "user", content: "Hi" }] },
    expected: { model: "claude", messages: [{ role: "user", content: "Hi" }], max_completion_tokens: 1000 }
  },
  {
    name: "system string",
    request: { system: "Be brief.", messages: [{ role: "user", content: "Hi" }] },
    expected: { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] }
  },
  {
    name: "system blocks with cache_control",
    request: {
      system: [{ type: "text", text: "A" }, { type: "text", text: "B", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "Hi" }]
    },
    expected: {
      messages: [
        { role: "system", content: [{ type: "text", text: "A" }, { type: "text", text: "B", cache_control: { type: "ephemeral" } }] },
        { role: "user", content: "Hi" }
      ]
    }
  },
  {
    name: "plain system blocks join",
    request: { system: [{ type: "text", text: "A" }, { type: "text", text: "B" }], messages: [{ role: "user", content: "Hi" }] },
    expected: { messages: [{ role: "system", content: "AB" }, { role: "user", content: "Hi" }] }
  },
  {
    name: "sampling, stop, user",
    request: {
      messages: [{ role: "user", content: "Hi" }],
      temperature: 0.2,
      top_p: 0.8,
      top_k: 4,
      stop_sequences: ["X"],
      metadata: { user_id: "u-1" }
    },
    expected: { temperature: 0.2, top_p: 0.8, stop: ["X"], user: "u-1" }
  },
  {
    name: "stream asks for usage",
    request: { messages: [{ role: "user", content: "Hi" }], stream: true },
    expected: { stream: true, stream_options: { include_usage: true } }
  },
  {
    name: "tool loop",
    request: {
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Need the tool.", signature: "sig" },
            { type: "text", text: "Checking." },
            { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } }
          ]
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_1", content: "18C" },
            { type: "text", text: "And tomorrow?" }
          ]
        }
      ]
    },
    expected: {
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }],
          reasoning_content: "Need the tool.",
          thinking_blocks: [{ type: "thinking", thinking: "Need the tool.", signature: "sig" }]
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18C" },
        { role: "user", content: "And tomorrow?" }
      ]
    }
  },
  {
    name: "thought signature from tool_use id",
    request: {
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: [{ type: "tool_use", id: SIGNED_ID, name: "get_weather", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: SIGNED_ID, content: "18C" }] }
      ]
    },
    expected: {
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_0_abc", type: "function", function: { name: "get_weather", arguments: "{}" }, extra_content: { google: { thought_signature: "EqUC+/9=" } } }
          ]
        },
        { role: "tool", tool_call_id: "call_0_abc", content: "18C" }
      ]
    }
  },
  {
    name: "images and documents",
    request: {
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBO" } },
            { type: "image", source: { type: "url", url: "https://example.com/a.jpg" }, cache_control: { type: "ephemeral" } },
            { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" }, title: "a.pdf" },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "héllo" } }
          ]
        }
      ]
    },
    expected: {
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBO" } },
            { type: "image_url", image_url: { url: "https://example.com/a.jpg" }, cache_control: { type: "ephemeral" } },
            { type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBE" } },
            { type: "file", file: { file_data: "data:text/plain;base64,aMOpbGxv" } }
          ]
        }
      ]
    }
  },
  {
    name: "tools and tool_choice",
    request: {
      messages: [{ role: "user", content: "Hi" }],
      tools: [{ name: "f", description: "does f", input_schema: { type: "object", properties: {} } }],
      tool_choice: { type: "any", disable_parallel_tool_use: true }
    },
    expected: {
      tools: [{ type: "function", function: { name: "f", description: "does f", parameters: { type: "object", properties: {} } } }],
      tool_choice: "required",
      parallel_tool_calls: false
    }
  },
  {
    name: "named tool choice",
    request: { messages: [{ role: "user", content: "Hi" }], tools: [{ name: "f", input_schema: {} }], tool_choice: { type: "tool", name: "f" } },
    expected: { tool_choice: { type: "function", function: { name: "f" } } }
  },
  {
    name: "thinking budget to effort",
    request: { messages: [{ role: "user", content: "Hi" }], thinking: { type: "enabled", budget_tokens: 5000 } },
    expected: { reasoning_effort: "medium" }
  },
  {
    name: "structured output",
    request: { messages: [{ role: "user", content: "Hi" }], output_config: { format: { type: "json_schema", schema: { type: "object" } } } },
    expected: { response_format: { type: "json_schema", json_schema: { name: "response", schema: { type: "object" } } } }
  }
]

describe("fromAnthropicRequest", () => {
  for (const { name, request, expected } of cases) {
    it(name, () => {
      expect(translated(request)).toMatchObject(expected)
    })
  }

  it("null optional fields left out", () => {
    const body = translated({ messages: [{ role: "user", content: "Hi" }], system: null, tools: null, tool_choice: null, metadata: null, stop_sequences: null, stream: null })

    expect(Object.keys(body).sort()).toEqual(["max_completion_tokens", "messages", "model"])
    expect(body.messages).toEqual([{ role: "user", content: "Hi" }])
  })

  it("Anthropic-only fields left out", () => {
    const body = translated({ messages: [{ role: "user", content: "Hi" }], top_k: 3, service_tier: "auto", thinking: { type: "enabled", budget_tokens: 2000 } })
    expect(Object.keys(body).sort()).toEqual(["max_completion_tokens", "messages", "model", "reasoning_effort"])
  })

  it("top_k kept when the adapter reads it", () => {
    const request = { model: "claude", max_tokens: 1000, messages: [{ role: "user", content: "Hi" }], top_k: 3 } as MessagesRequest
    const body = Effect.runSync(fromAnthropicRequest(request, { chatExtensions: ["top_k"] }))
    expect(body.top_k).toBe(3)
  })

  it("result is a valid ChatRequest", () => {
    for (const { request } of cases) {
      const body = translated(request)
      expect(Either.isRight(Schema.decodeUnknownEither(ChatRequest)(body))).toBe(true)
    }
  })

  const rejections: ReadonlyArray<{ readonly name: string; readonly request: Record<string, unknown>; readonly param: string }> = [
    { name: "server tool", request: { messages: [], tools: [{ type: "web_search_20250305", name: "web_search" }] }, param: "tools[0].type" },
    {
      name: "url document",
      request: { messages: [{ role: "user", content: [{ type: "document", source: { type: "url", url: "https://x/a.pdf" } }] }] },
      param: "messages[0].content[0].source"
    },
    {
      name: "server tool result in assistant",
      request: { messages: [{ role: "assistant", content: [{ type: "web_search_tool_result", tool_use_id: "x", content: [] }] }] },
      param: "messages[0].content[0].type"
    },
    { name: "bad tool_choice type", request: { messages: [], tool_choice: { type: "sometimes" } }, param: "tool_choice.type" },
    { name: "image block in system", request: { messages: [], system: [{ type: "image", source: {} }] }, param: "system[0].type" }
  ]
  for (const { name, request, param } of rejections) {
    it(`rejects ${name}`, () => {
      const result = translate(request)
      if (Either.isRight(result)) throw new Error("expected an InvalidRequestError")
      expect(result.left).toBeInstanceOf(InvalidRequestError)
      expect(result.left.param).toBe(param)
    })
  }
})

describe("Messages → chat → Messages", () => {
  const roundTrips: ReadonlyArray<{ readonly name: string; readonly body: Record<string, unknown> }> = [
    {
      name: "tool loop with thinking",
      body: {
        model: "claude-upstream",
        max_tokens: 4000,
        system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
        messages: [
          { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "Use the tool.", signature: "sig-1" },
              { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } }
            ]
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_1", content: "18C" },
              { type: "text", text: "Thanks." }
            ]
          }
        ],
        tools: [{ name: "get_weather", description: "Weather now", input_schema: { type: "object", properties: { location: { type: "string" } } } }],
        tool_choice: { type: "auto", disable_parallel_tool_use: true },
        thinking: { type: "enabled", budget_tokens: 2048 },
        stop_sequences: ["END"],
        temperature: 1,
        metadata: { user_id: "u-1" }
      }
    },
    {
      name: "images",
      body: {
        model: "claude-upstream",
        max_tokens: 300,
        messages: [
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4A==" } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
              { type: "text", text: "Same cat?" }
            ]
          }
        ]
      }
    }
  ]
  for (const { name, body } of roundTrips) {
    it(name, () => {
      const chat = translated(body)
      const back = Effect.runSync(toAnthropicRequest(chat as ChatRequest, { model: "claude-upstream", defaultMaxTokens: 1, stream: false }))
      expect(back).toEqual(body)
    })
  }
})
