import { describe, expect, it } from "vitest"
import { LazyStreamEvent, looksLikeJsonObject, mayEndOrReport, notableContent } from "./LazyStreamEvent.js"

describe("mayEndOrReport", () => {
  it("flags a usage object, a finish reason and an error key", () => {
    expect(mayEndOrReport('{"choices":[],"usage":{"prompt_tokens":1}}')).toBe(true)
    expect(mayEndOrReport('{"choices":[], "usage" : {"prompt_tokens":1}}')).toBe(true)
    expect(mayEndOrReport('{"choices":[{"delta":{},"finish_reason":"stop"}]}')).toBe(true)
    expect(mayEndOrReport('{"choices":[{"delta":{},"finish_reason": "length"}]}')).toBe(true)
    expect(mayEndOrReport('{"error":{"message":"overloaded"}}')).toBe(true)
    expect(mayEndOrReport('{"x_groq":{"usage":{"prompt_tokens":1}}}')).toBe(true)
    expect(mayEndOrReport('{"object":"error","message":"Bad request","type":"BadRequestError","code":400}')).toBe(true)
  })

  it("passes over ordinary text chunks, even ones that mention these words", () => {
    expect(mayEndOrReport('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}')).toBe(false)
    expect(mayEndOrReport(JSON.stringify({ choices: [{ delta: { content: 'an "error": {"usage": {1}}, "finish_reason": "stop"' } }] }))).toBe(false)
  })
})

describe("notableContent", () => {
  it("a finish reason alone: finish", () => {
    expect(notableContent('{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}')).toBe("finish")
    expect(notableContent('{"choices":[{"delta":{},"finish_reason" : "length"}]}')).toBe("finish")
  })

  it("usage or error anywhere: parse", () => {
    expect(notableContent('{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}')).toBe("parse")
    expect(notableContent('{"choices":[{"delta":{},"finish_reason":"stop"}],"error":{"message":"cut"}}')).toBe("parse")
    expect(notableContent('{"choices":[],"usage":{"prompt_tokens":1}}')).toBe("parse")
    expect(notableContent('{"x_groq":{"usage":{"prompt_tokens":1}},"choices":[{"finish_reason":"stop"}]}')).toBe("parse")
  })

  it("error finish reason: parse", () => {
    expect(notableContent('{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}')).toBe("parse")
    expect(notableContent('{"choices":[{"delta":{},"finish_reason" : "error"}]}')).toBe("parse")
    expect(notableContent('{"id":"gen-1","error":{"code":502,"message":"lost"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}')).toBe("parse")
  })

  it("error inside longer text: finish", () => {
    expect(notableContent(JSON.stringify({ choices: [{ delta: { content: 'an "error" occurred' }, finish_reason: "stop" }] }))).toBe("finish")
  })

  // A text delta that is exactly the word costs a parse, and the parse finds no error.
  it("text exactly error: parse", () => {
    expect(notableContent('{"choices":[{"delta":{"content":"error"},"finish_reason":null}]}')).toBe("parse")
  })

  it("an empty finish reason: parse", () => {
    expect(notableContent('{"choices":[{"delta":{},"finish_reason":""}]}')).toBe("parse")
  })

  it("ordinary text chunks: plain", () => {
    expect(notableContent('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}')).toBe("plain")
    expect(notableContent(JSON.stringify({ choices: [{ delta: { content: 'a "finish_reason": "stop"' } }] }))).toBe("plain")
  })
})

describe("LazyStreamEvent", () => {
  it("parses its data once, when json is first read", () => {
    const event = new LazyStreamEvent({ data: '{"a":[1]}', event: "message" }, () => new Error("invalid"))
    expect(event.event).toBe("message")
    const first = event.json
    expect(first).toEqual({ a: [1] })
    expect(event.json).toBe(first)
  })

  it("throws the adapter's error for data that is not JSON, and has no event field when the source had none", () => {
    const event = new LazyStreamEvent({ data: "{oops" }, () => new Error("invalid event"))
    expect("event" in event).toBe(false)
    expect(() => event.json).toThrow("invalid event")
  })
})

describe("looksLikeJsonObject", () => {
  it("object-shaped data", () => {
    expect(looksLikeJsonObject('{"a":1}')).toBe(true)
    expect(looksLikeJsonObject(' \n{"a":1}\t ')).toBe(true)
  })

  it("cut or non-object data", () => {
    expect(looksLikeJsonObject("{not json")).toBe(false)
    expect(looksLikeJsonObject("[1]")).toBe(false)
    expect(looksLikeJsonObject("<html>")).toBe(false)
    expect(looksLikeJsonObject("")).toBe(false)
    expect(looksLikeJsonObject("}")).toBe(false)
  })
})
