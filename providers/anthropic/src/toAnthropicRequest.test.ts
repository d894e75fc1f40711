import { describe, expect, it } from "@effect/vitest"
import { InvalidRequestError, type ChatRequest } from "@fluxen/sdk"
import { Effect, Either } from "effect"
import { toAnthropicRequest } from "./toAnthropicRequest.js"
import { wireToolUseId } from "./wireToolUseId.js"

const options = { model: "claude-upstream", defaultMaxTokens: 4096, stream: false }

const translate = (request: Omit<ChatRequest, "model">, overrides?: Partial<typeof options>) =>
  Effect.runSync(Effect.either(toAnthropicRequest({ model: "client-model", ...request } as ChatRequest, { ...options, ...overrides })))

const translated = (request: Omit<ChatRequest, "model">, overrides?: Partial<typeof options>) => {
  const result = translate(request, overrides)
  if (Either.isLeft(result)) throw new Error(`expected a translation, got: ${result.left.message}`)
  return result.right
}

const rejected = (request: Omit<ChatRequest, "model">) => {
  const result = translate(request)
  if (Either.isRight(result)) throw new Error(`expected an InvalidRequestError, got ${JSON.stringify(result.right)}`)
  expect(result.left).toBeInstanceOf(InvalidRequestError)
  return result.left
}

const user = (content: string) => ({ role: "user" as const, content })

interface Case {
  readonly name: string
  readonly request: Omit<ChatRequest, "model">
  readonly expected: Record<string, unknown>
  readonly overrides?: Partial<typeof options>
}

const cases: ReadonlyArray<Case> = [
  {
    name: "defaults",
    request: { messages: [user("Hi")] },
    expected: { model: "claude-upstream", messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], max_tokens: 4096 }
  },
  {
    name: "stream flag",
    request: { messages: [user("Hi")], stream: true, stream_options: { include_usage: true } },
    overrides: { stream: true },
    expected: { model: "claude-upstream", messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], max_tokens: 4096, stream: true }
  },
  {
    name: "max_completion_tokens wins over max_tokens",
    request: { messages: [user("Hi")], max_tokens: 100, max_completion_tokens: 200 },
    expected: { max_tokens: 200 }
  },
  {
    name: "max_tokens",
    request: { messages: [user("Hi")], max_tokens: 100 },
    expected: { max_tokens: 100 }
  },
  {
    name: "sampling and stop string",
    request: { messages: [user("Hi")], temperature: 0.3, top_p: 0.9, stop: "END", top_k: 5 },
    expected: { temperature: 0.3, top_p: 0.9, top_k: 5, stop_sequences: ["END"] }
  },
  {
    name: "stop array",
    request: { messages: [user("Hi")], stop: ["a", "b"] },
    expected: { stop_sequences: ["a", "b"] }
  },
  {
    name: "user becomes metadata.user_id",
    request: { messages: [user("Hi")], user: "user-42" },
    expected: { metadata: { user_id: "user-42" } }
  },
  {
    name: "ignored OpenAI-only fields",
    request: { messages: [user("Hi")], seed: 1, presence_penalty: 0.5, frequency_penalty: 0.5, n: 1, store: true, metadata: { a: "b" } },
    expected: { model: "claude-upstream", messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], max_tokens: 4096 }
  },
  {
    name: "system and developer in odd positions",
    request: {
      messages: [
        user("one"),
        { role: "system", content: "Be brief." },
        { role: "assistant", content: "ok" },
        { role: "developer", content: [{ type: "text", text: "Use metric units.", cache_control: { type: "ephemeral" } }] },
        user("two")
      ]
    },
    expected: {
      system: [
        { type: "text", text: "Be brief." },
        { type: "text", text: "Use metric units.", cache_control: { type: "ephemeral" } }
      ],
      messages: [
        { role: "user", content: [{ type: "text", text: "one" }] },
        { role: "assistant", content: [{ type: "text", text: "ok" }] },
        { role: "user", content: [{ type: "text", text: "two" }] }
      ]
    }
  },
  {
    name: "consecutive same-role turns merge",
    request: {
      messages: [user("a"), { role: "system", content: "S" }, user("b"), { role: "assistant", content: "c" }, { role: "assistant", content: "d" }]
    },
    expected: {
      system: [{ type: "text", text: "S" }],
      messages: [
        { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
        { role: "assistant", content: [{ type: "text", text: "c" }, { type: "text", text: "d" }] }
      ]
    }
  },
  {
    name: "tool loop with grouped results",
    request: {
      messages: [
        user("Weather in Paris and Rome?"),
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome"}' } }
          ]
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18C" },
        { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "21C" }] },
        user("Thanks, and Oslo?")
      ]
    },
    expected: {
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather in Paris and Rome?" }] },
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } },
            { type: "tool_use", id: "toolu_2", name: "get_weather", input: { location: "Rome" } }
          ]
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_1", content: "18C" },
            { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "21C" }] },
            { type: "text", text: "Thanks, and Oslo?" }
          ]
        }
      ]
    }
  },
  {
    name: "foreign tool call ids",
    request: {
      messages: [
        { role: "assistant", content: "", tool_calls: [{ id: "functions.Bash:0", type: "function", function: { name: "Bash", arguments: "" } }] },
        { role: "tool", tool_call_id: "functions.Bash:0", content: "ok" }
      ]
    },
    expected: {
      messages: [
        { role: "assistant", content: [{ type: "tool_use", id: wireToolUseId("functions.Bash:0"), name: "Bash", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: wireToolUseId("functions.Bash:0"), content: "ok" }] }
      ]
    }
  },
  {
    name: "tool results move before user text",
    request: {
      messages: [
        { role: "assistant", content: "", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "" } }] },
        user("note first"),
        { role: "tool", tool_call_id: "t1", content: "" }
      ]
    },
    expected: {
      messages: [
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }, { type: "text", text: "note first" }] }
      ]
    }
  },
  {
    name: "text with assistant tool call",
    request: {
      messages: [
        user("Hi"),
        { role: "assistant", content: "Let me check.", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{}" } }] }
      ]
    },
    expected: {
      messages: [
        { role: "user", content: [{ type: "text", text: "Hi" }] },
        { role: "assistant", content: [{ type: "text", text: "Let me check." }, { type: "tool_use", id: "t1", name: "f", input: {} }] }
      ]
    }
  },
  {
    name: "images by data URL and http URL",
    request: {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" }, cache_control: { type: "ephemeral" } }
          ]
        }
      ]
    },
    expected: {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" }, cache_control: { type: "ephemeral" } }
          ]
        }
      ]
    }
  },
  {
    name: "pdf file part",
    request: {
      messages: [{ role: "user", content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } }] }]
    },
    expected: {
      messages: [
        { role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" }, title: "a.pdf" }] }
      ]
    }
  },
  {
    name: "cache_control on parts and messages",
    request: {
      messages: [
        { role: "user", content: [{ type: "text", text: "long context", cache_control: { type: "ephemeral", ttl: "1h" } }] },
        { role: "assistant", content: "ok", cache_control: { type: "ephemeral" } }
      ]
    },
    expected: {
      messages: [
        { role: "user", content: [{ type: "text", text: "long context", cache_control: { type: "ephemeral", ttl: "1h" } }] },
        { role: "assistant", content: [{ type: "text", text: "ok", cache_control: { type: "ephemeral" } }] }
      ]
    }
  },
  {
    name: "tools",
    request: {
      messages: [user("Hi")],
      tools: [
        { type: "function", function: { name: "get_weather", description: "Weather now", parameters: { type: "object", properties: { location: { type: "string" } } }, strict: true } },
        { type: "function", function: { name: "no_params" } }
      ]
    },
    expected: {
      tools: [
        { name: "get_weather", description: "Weather now", input_schema: { type: "object", properties: { location: { type: "string" } } } },
        { name: "no_params", input_schema: { type: "object", properties: {} } }
      ]
    }
  },
  {
    name: "reasoning_effort low",
    request: { messages: [user("Hi")], reasoning_effort: "low", max_completion_tokens: 8000 },
    expected: { thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 8000 }
  },
  {
    name: "reasoning_effort raises max_tokens",
    request: { messages: [user("Hi")], reasoning_effort: "high", max_tokens: 1000 },
    expected: { thinking: { type: "enabled", budget_tokens: 16384 }, max_tokens: 17384 }
  },
  {
    name: "reasoning_effort medium with default limit",
    request: { messages: [user("Hi")], reasoning_effort: "medium" },
    expected: { thinking: { type: "enabled", budget_tokens: 8192 }, max_tokens: 8192 + 4096 }
  },
  {
    name: "native thinking wins over reasoning_effort",
    request: { messages: [user("Hi")], reasoning_effort: "high", thinking: { type: "enabled", budget_tokens: 3000 }, max_tokens: 5000 },
    expected: { thinking: { type: "enabled", budget_tokens: 3000 }, max_tokens: 5000 }
  },
  {
    name: "json_schema response format",
    request: {
      messages: [user("Hi")],
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { a: { type: "string" } } } } }
    },
    expected: { output_config: { format: { type: "json_schema", schema: { type: "object", properties: { a: { type: "string" } } } } } }
  },
  {
    name: "thinking blocks restored first",
    request: {
      messages: [
        user("What is 925 / 5?"),
        {
          role: "assistant",
          content: "Let me compute.",
          reasoning_content: "925 ÷ 5 = 185",
          thinking_blocks: [
            { type: "thinking", thinking: "925 ÷ 5 = 185", signature: "sig-1" },
            { type: "redacted_thinking", data: "opaque" }
          ],
          tool_calls: [{ id: "t1", type: "function", function: { name: "calc", arguments: '{"x":925}' } }]
        },
        { role: "tool", tool_call_id: "t1", content: "185" }
      ],
      reasoning_effort: "low"
    },
    expected: {
      messages: [
        { role: "user", content: [{ type: "text", text: "What is 925 / 5?" }] },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "925 ÷ 5 = 185", signature: "sig-1" },
            { type: "redacted_thinking", data: "opaque" },
            { type: "text", text: "Let me compute." },
            { type: "tool_use", id: "t1", name: "calc", input: { x: 925 } }
          ]
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "185" }] }
      ]
    }
  }
]

describe("toAnthropicRequest", () => {
  for (const { name, request, expected, overrides } of cases) {
    it(name, () => {
      const body = translated(request, overrides)
      expect(body).toMatchObject(expected)
    })
  }

  it("defaults body is exact", () => {
    expect(translated({ messages: [user("Hi")] })).toEqual({
      model: "claude-upstream",
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
      max_tokens: 4096
    })
  })

  it("unknown fields are not forwarded", () => {
    const body = translated({ messages: [user("Hi")], seed: 3, logit_bias: { "1": 2 }, service_tier: "auto" })
    expect(Object.keys(body).sort()).toEqual(["max_tokens", "messages", "model"])
  })

  it("null optional fields left out", () => {
    const body = translated({
      messages: [user("Hi"), { role: "assistant", content: "Hello.", name: null, tool_calls: null }, user("Bye")],
      tools: null,
      tool_choice: null,
      parallel_tool_calls: null,
      response_format: null,
      user: null,
      top_k: null
    })

    expect(Object.keys(body).sort()).toEqual(["max_tokens", "messages", "model"])
    expect(body.messages[1]).toEqual({ role: "assistant", content: [{ type: "text", text: "Hello." }] })
  })

  it("null tool_choice keeps tools", () => {
    const tool = { type: "function", function: { name: "get_weather", description: null, parameters: { type: "object" } } }
    const body = translated({ messages: [user("Hi")], tools: [tool], tool_choice: null, parallel_tool_calls: null })

    expect(body.tools).toEqual([{ name: "get_weather", input_schema: { type: "object" } }])
    expect(body.tool_choice).toBeUndefined()
  })

  it("empty system content is dropped", () => {
    const body = translated({ messages: [{ role: "system", content: "" }, user("Hi")] })
    expect(body.system).toBeUndefined()
  })
})

describe("toAnthropicRequest tool_choice", () => {
  const tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }]
  const choices: ReadonlyArray<{ readonly name: string; readonly request: Record<string, unknown>; readonly expected: unknown }> = [
    { name: "auto", request: { tool_choice: "auto" }, expected: { type: "auto" } },
    { name: "required", request: { tool_choice: "required" }, expected: { type: "any" } },
    { name: "none", request: { tool_choice: "none" }, expected: { type: "none" } },
    { name: "named function", request: { tool_choice: { type: "function", function: { name: "f" } } }, expected: { type: "tool", name: "f" } },
    { name: "absent", request: {}, expected: undefined },
    { name: "parallel off without choice", request: { parallel_tool_calls: false }, expected: { type: "auto", disable_parallel_tool_use: true } },
    { name: "parallel off with required", request: { tool_choice: "required", parallel_tool_calls: false }, expected: { type: "any", disable_parallel_tool_use: true } },
    {
      name: "parallel off with named",
      request: { tool_choice: { type: "function", function: { name: "f" } }, parallel_tool_calls: false },
      expected: { type: "tool", name: "f", disable_parallel_tool_use: true }
    },
    { name: "parallel off with none", request: { tool_choice: "none", parallel_tool_calls: false }, expected: { type: "none" } },
    { name: "parallel on", request: { parallel_tool_calls: true }, expected: undefined }
  ]
  for (const { name, request, expected } of choices) {
    it(name, () => {
      const body = translated({ messages: [user("Hi")], tools, ...request } as Omit<ChatRequest, "model">)
      expect(body.tool_choice).toEqual(expected)
    })
  }

  it("no tools, no tool_choice", () => {
    const body = translated({ messages: [user("Hi")], tool_choice: "auto", parallel_tool_calls: false })
    expect(body.tool_choice).toBeUndefined()
    expect(body.tools).toBeUndefined()
  })
})

describe("toAnthropicRequest rejections", () => {
  const rejections: ReadonlyArray<{ readonly name: string; readonly request: Record<string, unknown>; readonly param: string }> = [
    {
      name: "invalid tool call JSON",
      request: {
        messages: [user("Hi"), { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{oops" } }] }]
      },
      param: "messages[1].tool_calls[0].function.arguments"
    },
    {
      name: "tool call arguments not an object",
      request: {
        messages: [user("Hi"), { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "[1]" } }] }]
      },
      param: "messages[1].tool_calls[0].function.arguments"
    },
    { name: "temperature above 1", request: { messages: [user("Hi")], temperature: 1.5 }, param: "temperature" },
    { name: "n above 1", request: { messages: [user("Hi")], n: 2 }, param: "n" },
    { name: "logprobs", request: { messages: [user("Hi")], logprobs: true }, param: "logprobs" },
    { name: "unknown reasoning_effort", request: { messages: [user("Hi")], reasoning_effort: "extreme" }, param: "reasoning_effort" },
    { name: "json_object mode", request: { messages: [user("Hi")], response_format: { type: "json_object" } }, param: "response_format.type" },
    { name: "only system messages", request: { messages: [{ role: "system", content: "S" }] }, param: "messages" },
    { name: "tool message without id", request: { messages: [user("Hi"), { role: "tool", content: "x" }] }, param: "messages[1].tool_call_id" },
    {
      name: "audio part",
      request: { messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }] }] },
      param: "messages[0].content[0].type"
    },
    {
      name: "image with ftp URL",
      request: { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }] },
      param: "messages[0].content[0].image_url.url"
    },
    {
      name: "image in system message",
      request: { messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }, user("Hi")] },
      param: "messages[0].content[0].type"
    },
    {
      name: "uploaded file id",
      request: { messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] },
      param: "messages[0].content[0].file.file_data"
    },
    { name: "non-function tool", request: { messages: [user("Hi")], tools: [{ type: "custom", custom: { name: "x" } }] }, param: "tools[0].type" },
    { name: "function role", request: { messages: [{ role: "function", name: "f", content: "x" }] }, param: "messages[0].role" },
    {
      name: "malformed thinking block",
      request: { messages: [user("Hi"), { role: "assistant", content: "x", thinking_blocks: [{ type: "thinking", thinking: "t" }] }] },
      param: "messages[1].thinking_blocks[0]"
    }
  ]
  for (const { name, request, param } of rejections) {
    it(name, () => {
      const error = rejected(request as Omit<ChatRequest, "model">)
      expect(error.param).toBe(param)
      expect(error.message).toContain(param === "messages" ? "messages" : param.split(".")[0]!.split("[")[0]!)
    })
  }
})
