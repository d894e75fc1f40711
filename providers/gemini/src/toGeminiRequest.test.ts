import type { ChatMessage, ChatRequest, InvalidRequestError } from "@fluxen/sdk"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { GenerateContentRequest } from "./GeminiTypes.js"
import { toFunctionResponse } from "./toGeminiContents.js"
import { thinkingBudgetTable, toGeminiRequest } from "./toGeminiRequest.js"

const userHello: ChatMessage = { role: "user", content: "Hello" }

const convert = (overrides: Partial<ChatRequest>): GenerateContentRequest =>
  Effect.runSync(toGeminiRequest({ model: "gemini", messages: [userHello], ...overrides }))

const rejection = (overrides: Partial<ChatRequest>): InvalidRequestError =>
  Effect.runSync(Effect.flip(toGeminiRequest({ model: "gemini", messages: [userHello], ...overrides })))

const weatherTool = {
  type: "function",
  function: {
    name: "weather",
    description: "Current weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false }
  }
}

describe("generation config", () => {
  const cases: ReadonlyArray<readonly [string, Partial<ChatRequest>, unknown]> = [
    ["max_tokens", { max_tokens: 100 }, { maxOutputTokens: 100 }],
    ["max_completion_tokens", { max_completion_tokens: 200 }, { maxOutputTokens: 200 }],
    ["max_completion_tokens wins", { max_tokens: 100, max_completion_tokens: 200 }, { maxOutputTokens: 200 }],
    ["temperature", { temperature: 0.3 }, { temperature: 0.3 }],
    ["top_p", { top_p: 0.9 }, { topP: 0.9 }],
    ["top_k", { top_k: 40 } as Partial<ChatRequest>, { topK: 40 }],
    ["top_k null skipped", { top_k: null } as Partial<ChatRequest>, undefined],
    ["stop string", { stop: "END" }, { stopSequences: ["END"] }],
    ["stop array", { stop: ["a", "b"] }, { stopSequences: ["a", "b"] }],
    ["n", { n: 2 }, { candidateCount: 2 }],
    ["seed", { seed: 42 }, { seed: 42 }],
    ["presence_penalty", { presence_penalty: 0.5 }, { presencePenalty: 0.5 }],
    ["frequency_penalty", { frequency_penalty: -0.5 }, { frequencyPenalty: -0.5 }],
    ["response_format text", { response_format: { type: "text" } }, undefined],
    ["response_format json_object", { response_format: { type: "json_object" } }, { responseMimeType: "application/json" }],
    [
      "response_format json_schema",
      {
        response_format: {
          type: "json_schema",
          json_schema: { name: "answer", strict: true, schema: { type: "object", properties: { answer: { type: "string" } }, additionalProperties: false } }
        }
      },
      { responseMimeType: "application/json", responseSchema: { type: "OBJECT", properties: { answer: { type: "STRING" } } } }
    ],
    ["json_schema without schema", { response_format: { type: "json_schema", json_schema: { name: "x" } } }, { responseMimeType: "application/json" }],
    ["nulls skipped", { max_tokens: null, temperature: null, stop: null }, undefined],
    ["ignored parameters", { parallel_tool_calls: false, user: "u1", logprobs: true } as Partial<ChatRequest>, undefined]
  ]
  for (const [name, overrides, expected] of cases) {
    it(name, () => {
      expect(convert(overrides).generationConfig).toEqual(expected)
    })
  }

  for (const topK of [-1, 2.5, "40"]) {
    it(`top_k ${JSON.stringify(topK)} rejected`, () => {
      expect(rejection({ top_k: topK } as Partial<ChatRequest>)).toMatchObject({ param: "top_k" })
    })
  }

  it("unknown response_format type", () => {
    expect(rejection({ response_format: { type: "xml" } })).toMatchObject({ param: "response_format.type" })
  })
})

describe("reasoning effort", () => {
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    ["none", { thinkingBudget: 0, includeThoughts: false }],
    ["minimal", { thinkingBudget: 512, includeThoughts: true }],
    ["low", { thinkingBudget: 2048, includeThoughts: true }],
    ["medium", { thinkingBudget: 8192, includeThoughts: true }],
    ["high", { thinkingBudget: 24576, includeThoughts: true }]
  ]
  for (const [effort, expected] of cases) {
    it(effort, () => {
      expect(convert({ reasoning_effort: effort }).generationConfig?.thinkingConfig).toEqual(expected)
    })
  }

  it("table covers every case", () => {
    expect(Object.keys(thinkingBudgetTable).sort()).toEqual(cases.map(([effort]) => effort).sort())
  })

  it("unknown effort rejected", () => {
    const error = rejection({ reasoning_effort: "max" })
    expect(error).toMatchObject({ _tag: "InvalidRequestError", param: "reasoning_effort" })
    expect(error.message).toContain("none, minimal, low, medium, high")
  })
})

describe("tools", () => {
  it("function declarations", () => {
    expect(convert({ tools: [weatherTool] }).tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "weather",
            description: "Current weather",
            parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] }
          }
        ]
      }
    ])
  })

  it("function without parameters", () => {
    const tools = [
      { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
      { type: "function", function: { name: "ping" } }
    ]
    expect(convert({ tools }).tools).toEqual([{ functionDeclarations: [{ name: "now" }, { name: "ping" }] }])
  })

  it("non-function tool rejected", () => {
    expect(rejection({ tools: [{ type: "web_search" }] })).toMatchObject({ param: "tools[0].type" })
  })

  it("recursive schema rejected", () => {
    const tools = [
      {
        type: "function",
        function: { name: "tree", parameters: { $defs: { Node: { type: "object", properties: { child: { $ref: "#/$defs/Node" } } } }, $ref: "#/$defs/Node" } }
      }
    ]
    expect(rejection({ tools })).toMatchObject({ param: "tools[0].function.parameters" })
  })

  const choiceCases: ReadonlyArray<readonly [string, ChatRequest["tool_choice"], unknown]> = [
    ["auto", "auto", { functionCallingConfig: { mode: "AUTO" } }],
    ["none", "none", { functionCallingConfig: { mode: "NONE" } }],
    ["required", "required", { functionCallingConfig: { mode: "ANY" } }],
    [
      "named function",
      { type: "function", function: { name: "weather" } },
      { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["weather"] } }
    ]
  ]
  for (const [name, choice, expected] of choiceCases) {
    it(`tool_choice ${name}`, () => {
      expect(convert({ tools: [weatherTool], tool_choice: choice }).toolConfig).toEqual(expected)
    })
  }

  it("null tools and tool_choice left out", () => {
    const request = convert({ tools: null, tool_choice: null, parallel_tool_calls: null, response_format: null, user: null })

    expect(request).toEqual({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] })
  })

  it("null tool description left out", () => {
    const tool = { type: "function", function: { name: "ping", description: null } }

    expect(convert({ tools: [tool], tool_choice: null }).tools).toEqual([{ functionDeclarations: [{ name: "ping" }] }])
  })

  it("tool_choice without tools", () => {
    expect(convert({ tool_choice: "none" }).toolConfig).toBeUndefined()
  })

  it("unsupported tool_choice object", () => {
    expect(rejection({ tools: [weatherTool], tool_choice: { type: "allowed_tools" } })).toMatchObject({ param: "tool_choice" })
  })
})

describe("messages", () => {
  it("system and developer become systemInstruction", () => {
    const request = convert({
      messages: [
        { role: "system", content: "Rule one." },
        { role: "developer", content: [{ type: "text", text: "Rule two." }] },
        userHello
      ]
    })
    expect(request.systemInstruction).toEqual({ parts: [{ text: "Rule one." }, { text: "Rule two." }] })
    expect(request.contents).toEqual([{ role: "user", parts: [{ text: "Hello" }] }])
  })

  it("roles alternate and same roles merge", () => {
    const request = convert({
      messages: [
        { role: "user", content: "one" },
        { role: "user", content: "two" },
        { role: "assistant", content: "three" },
        { role: "assistant", content: [{ type: "text", text: "four" }] },
        { role: "user", content: "five" }
      ]
    })
    expect(request.contents).toEqual([
      { role: "user", parts: [{ text: "one" }, { text: "two" }] },
      { role: "model", parts: [{ text: "three" }, { text: "four" }] },
      { role: "user", parts: [{ text: "five" }] }
    ])
  })

  it("system prompt alone rejected", () => {
    expect(rejection({ messages: [{ role: "system", content: "Only rules." }] })).toMatchObject({ param: "messages" })
  })

  const partCases: ReadonlyArray<readonly [string, Record<string, unknown>, unknown]> = [
    ["text", { type: "text", text: "hi" }, { text: "hi" }],
    [
      "data URL image",
      { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
      { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }
    ],
    [
      "https image, png",
      { type: "image_url", image_url: { url: "https://example.com/cat.PNG?size=large" } },
      { fileData: { mimeType: "image/png", fileUri: "https://example.com/cat.PNG?size=large" } }
    ],
    [
      "https image, webp",
      { type: "image_url", image_url: { url: "https://example.com/a/b.webp#x" } },
      { fileData: { mimeType: "image/webp", fileUri: "https://example.com/a/b.webp#x" } }
    ],
    [
      "https image, no extension",
      { type: "image_url", image_url: { url: "https://example.com/image" } },
      { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/image" } }
    ],
    [
      "image_url as string",
      { type: "image_url", image_url: "https://example.com/doc.pdf" },
      { fileData: { mimeType: "application/pdf", fileUri: "https://example.com/doc.pdf" } }
    ],
    ["input_audio", { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }, { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } }],
    [
      "file data URL",
      { type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0=" } },
      { inlineData: { mimeType: "application/pdf", data: "JVBERi0=" } }
    ]
  ]
  for (const [name, part, expected] of partCases) {
    it(`user part: ${name}`, () => {
      const request = convert({ messages: [{ role: "user", content: [part as any] }] })
      expect(request.contents[0]!.parts).toEqual([expected])
    })
  }

  const badPartCases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    ["unknown part type", { type: "video_url", video_url: "x" }, "messages[0].content[0].type"],
    ["data URL without base64", { type: "image_url", image_url: { url: "data:image/png,raw" } }, "messages[0].content[0].image_url.url"],
    ["ftp image", { type: "image_url", image_url: { url: "ftp://example.com/a.png" } }, "messages[0].content[0].image_url.url"],
    ["missing image url", { type: "image_url", image_url: {} }, "messages[0].content[0].image_url.url"],
    ["audio format", { type: "input_audio", input_audio: { data: "x", format: "flac" } }, "messages[0].content[0].input_audio"],
    ["file id", { type: "file", file: { file_id: "file-1" } }, "messages[0].content[0].file"]
  ]
  for (const [name, part, param] of badPartCases) {
    it(`rejects ${name}`, () => {
      expect(rejection({ messages: [{ role: "user", content: [part as any] }] })).toMatchObject({ _tag: "InvalidRequestError", param })
    })
  }

  it("image in a system message rejected", () => {
    const messages: Array<ChatMessage> = [
      { role: "system", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] },
      userHello
    ]
    expect(rejection({ messages })).toMatchObject({ param: "messages[0].content[0]" })
  })
})

describe("tool calls and results", () => {
  const call = (id: string, name: string, args: string, extra: object = {}) => ({ id, type: "function", function: { name, arguments: args }, ...extra })

  it("calls and results in order", () => {
    const request = convert({
      messages: [
        userHello,
        { role: "assistant", content: "Checking.", tool_calls: [call("a", "weather", '{"city":"Paris"}'), call("b", "time", "")] },
        { role: "tool", tool_call_id: "a", content: '{"temp": 21}' },
        { role: "tool", tool_call_id: "b", content: [{ type: "text", text: "12:00" }] }
      ]
    })
    expect(request.contents).toEqual([
      { role: "user", parts: [{ text: "Hello" }] },
      {
        role: "model",
        parts: [{ text: "Checking." }, { functionCall: { name: "weather", args: { city: "Paris" } } }, { functionCall: { name: "time", args: {} } }]
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "weather", response: { temp: 21 } } },
          { functionResponse: { name: "time", response: { result: "12:00" } } }
        ]
      }
    ])
  })

  it("reused id pairs with nearest call", () => {
    const request = convert({
      messages: [
        userHello,
        { role: "assistant", tool_calls: [call("call_0", "first", "{}")] },
        { role: "tool", tool_call_id: "call_0", content: "1" },
        { role: "assistant", tool_calls: [call("call_0", "second", "{}")] },
        { role: "tool", tool_call_id: "call_0", content: "2" }
      ]
    })
    const names = request.contents.flatMap((content) => content.parts.flatMap((part) => ("functionResponse" in part ? [part.functionResponse.name] : [])))
    expect(names).toEqual(["first", "second"])
  })

  it("legacy function message", () => {
    const request = convert({ messages: [userHello, { role: "function", name: "lookup", content: "found" }] })
    expect(request.contents[0]!.parts[1]).toEqual({ functionResponse: { name: "lookup", response: { result: "found" } } })
  })

  it("unknown tool_call_id rejected", () => {
    const error = rejection({ messages: [userHello, { role: "tool", tool_call_id: "missing", content: "x" }] })
    expect(error).toMatchObject({ param: "messages[1].tool_call_id" })
    expect(error.message).toContain("'missing'")
  })

  const badArguments: ReadonlyArray<readonly [string, string]> = [
    ["invalid JSON", "{city:"],
    ["array", "[1, 2]"],
    ["string", '"Paris"']
  ]
  for (const [name, args] of badArguments) {
    it(`arguments that are ${name} rejected`, () => {
      const error = rejection({ messages: [userHello, { role: "assistant", tool_calls: [call("a", "weather", args)] }] })
      expect(error).toMatchObject({ param: "messages[1].tool_calls[0].function.arguments" })
    })
  }

  it("signatures restored on parts", () => {
    const request = convert({
      messages: [
        userHello,
        {
          role: "assistant",
          content: "Let me check.",
          extra_content: { google: { thought_signature: "text-sig" } },
          tool_calls: [call("a", "weather", "{}", { extra_content: { google: { thought_signature: "call-sig" } } })]
        }
      ]
    })
    expect(request.contents[1]!.parts).toEqual([
      { text: "Let me check.", thoughtSignature: "text-sig" },
      { functionCall: { name: "weather", args: {} }, thoughtSignature: "call-sig" }
    ])
  })
})

describe("tool result wrapping", () => {
  const cases: ReadonlyArray<readonly [string, string, unknown]> = [
    ["object", '{"a": 1}', { a: 1 }],
    ["array", "[1, 2]", { result: [1, 2] }],
    ["number", "42", { result: 42 }],
    ["JSON string", '"done"', { result: "done" }],
    ["null", "null", { result: null }],
    ["plain text", "It is sunny.", { result: "It is sunny." }],
    ["empty", "", { result: "" }]
  ]
  for (const [name, content, expected] of cases) {
    it(name, () => {
      expect(toFunctionResponse(content)).toEqual(expected)
    })
  }
})
