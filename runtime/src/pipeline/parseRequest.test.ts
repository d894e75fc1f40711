import { describe, expect, it } from "@effect/vitest"
import { ChatRequest, CompletionRequest, EmbeddingsRequest, MessagesRequest, ResponsesRequest } from "@fluxen/sdk"
import { Either, type Schema } from "effect"
import { decodeRequest, decodeWithSchema } from "./parseRequest.js"

const hello = [{ role: "user", content: "Hello" }]

/** Returns the error of a rejected body, failing the test when the body was accepted. */
const errorOf = (schema: Schema.Schema<any, any>, body: unknown) => {
  const decoded = decodeRequest(schema, body)
  if (Either.isRight(decoded)) throw new Error(`Expected ${JSON.stringify(body)} to be rejected`)
  return decoded.left
}

describe("decodeRequest", () => {
  it("returns chat body without copying", () => {
    const body = JSON.parse(
      JSON.stringify({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "text", text: "Hello" }] }
        ],
        temperature: 0.2,
        max_tokens: 400,
        stream: true,
        stream_options: { include_usage: true }
      })
    )

    const decoded = decodeRequest(ChatRequest, body)

    expect(Either.isRight(decoded)).toBe(true)
    expect(Either.getOrThrow(decoded)).toBe(body)
  })

  it("returns embeddings body without copying", () => {
    const body = JSON.parse('{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float","dimensions":256}')

    const decoded = decodeRequest(EmbeddingsRequest, body)

    expect(Either.getOrThrow(decoded)).toBe(body)
  })

  it("decodes own __proto__ key like schema", () => {
    const body = JSON.parse('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi","__proto__":{"x":1}}]}')

    const decoded = Either.getOrThrow(decodeRequest(ChatRequest, body))

    expect(decoded).not.toBe(body)
    expect(decoded).toStrictEqual(Either.getOrThrow(decodeWithSchema(ChatRequest, body)))
  })

  it("accepts -0 like the schema", () => {
    const body = JSON.parse('{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":-0,"temperature":-0}')

    const decoded = decodeRequest(ChatRequest, body)

    expect(Either.getOrThrow(decoded)).toBe(body)
    expect(Either.getOrThrow(decodeWithSchema(ChatRequest, body))).toStrictEqual(body)
  })

  it("decodes other routes with schema", () => {
    const cases: ReadonlyArray<[Schema.Schema<any, any>, unknown]> = [
      [CompletionRequest, { model: "m", prompt: "Say hi" }],
      [ResponsesRequest, { model: "m", input: "Say hi" }],
      [MessagesRequest, { model: "m", max_tokens: 10, messages: hello }]
    ]
    for (const [schema, body] of cases) {
      const decoded = Either.getOrThrow(decodeRequest(schema, body))

      expect(decoded).not.toBe(body)
      expect(decoded).toStrictEqual(Either.getOrThrow(decodeWithSchema(schema, body)))
    }
  })

  // The expected messages and params are those of a schema-only decode, and the
  // fast path must return the same ones.
  it.each([
    [ChatRequest, { model: "gpt-4o-mini" }, "messages", "Invalid value for 'messages': is missing"],
    [
      ChatRequest,
      { model: "gpt-4o-mini", messages: hello, temperature: 5 },
      "temperature",
      "Invalid value for 'temperature': Expected a number between 0 and 2, actual 5"
    ],
    [
      ChatRequest,
      { model: "gpt-4o-mini", messages: [{ role: "robot", content: "Beep" }] },
      "messages[0].role",
      `Invalid value for 'messages[0].role': Expected "system", actual "robot"`
    ],
    [
      ChatRequest,
      { model: "", messages: hello },
      "model",
      `Invalid value for 'model': Expected a string at least 1 character(s) long, actual ""`
    ],
    [
      ChatRequest,
      { model: "m", messages: [] },
      "messages",
      "Invalid value for 'messages': Expected an array of at least 1 item(s), actual []"
    ],
    [
      ChatRequest,
      { model: "m", messages: hello, max_tokens: 1.5 },
      "max_tokens",
      "Invalid value for 'max_tokens': Expected an integer, actual 1.5"
    ],
    [ChatRequest, { model: "m", messages: hello, n: 0 }, "n", "Invalid value for 'n': Expected a number between 1 and 128, actual 0"],
    [
      ChatRequest,
      { model: "m", messages: [{ role: "tool", tool_call_id: null, content: "Sunny" }] },
      "messages[0].tool_call_id",
      "Invalid value for 'messages[0].tool_call_id': Expected string, actual null"
    ],
    [
      ChatRequest,
      { model: "m", messages: [{ role: "assistant", tool_calls: [{ id: "c", function: { name: "f" } }] }] },
      "messages[0].tool_calls[0].function.arguments",
      "Invalid value for 'messages[0].tool_calls[0].function.arguments': is missing"
    ],
    [
      ChatRequest,
      { model: "m", messages: [{ role: "user", content: [{ text: "hi" }] }] },
      "messages[0].content",
      `Invalid value for 'messages[0].content': Expected string, actual [{"text":"hi"}]`
    ],
    [
      ChatRequest,
      { model: "m", messages: hello, tool_choice: "any" },
      "tool_choice",
      `Invalid value for 'tool_choice': Expected "none", actual "any"`
    ],
    [EmbeddingsRequest, { model: "m", input: [] }, "input", "Invalid value for 'input': Expected string, actual []"],
    [EmbeddingsRequest, { model: "m", input: ["a", 1] }, "input", `Invalid value for 'input': Expected string, actual ["a",1]`],
    [
      EmbeddingsRequest,
      { model: "m", input: "a", dimensions: 0 },
      "dimensions",
      "Invalid value for 'dimensions': Expected a positive number, actual 0"
    ],
    [
      EmbeddingsRequest,
      { model: "m", input: "a", encoding_format: "int8" },
      "encoding_format",
      `Invalid value for 'encoding_format': Expected "float", actual "int8"`
    ]
  ])("rejects invalid body %# with its path", (schema, body, param, message) => {
    const error = errorOf(schema, body)

    expect(error.param).toBe(param)
    expect(error.message).toBe(message)
    expect(error.code).toBe("invalid_value")
  })
})
