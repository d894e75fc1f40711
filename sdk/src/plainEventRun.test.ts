import { Buffer } from "node:buffer"
import { describe, expect, it } from "vitest"
import { findPlainEventRun } from "./plainEventRun.js"

const delta = (content: string, finishReason = "null") =>
  `data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":${finishReason}}],"usage":null}\n\n`

// Each case runs on a Node Buffer, which searches natively, and on a plain Uint8Array, as Deno's fetch gives.
const runsOf = (text: string) => {
  const fromBuffer = findPlainEventRun(Buffer.from(text))
  const fromArray = findPlainEventRun(new TextEncoder().encode(text))
  expect(fromArray).toEqual(fromBuffer)
  return fromBuffer
}

const endOf = (...parts: ReadonlyArray<string>) => new TextEncoder().encode(parts.join("")).length

describe("findPlainEventRun", () => {
  it("plain events: whole read", () => {
    const text = delta("Hel") + delta("lo, ") + delta("wörld")
    expect(runsOf(text)).toEqual({ end: endOf(text), events: 3, finish: false })
  })

  it("finish reason: marks the end", () => {
    const text = delta("Hi") + delta("", '"stop"')
    expect(runsOf(text)).toEqual({ end: endOf(text), events: 2, finish: true })
  })

  it("usage object: stops the run", () => {
    const usage = 'data: {"choices":[],"usage" : {"prompt_tokens":3,"completion_tokens":2}}\n\n'
    expect(runsOf(delta("a") + delta("b") + usage + "data: [DONE]\n\n")).toEqual({ end: endOf(delta("a"), delta("b")), events: 2, finish: false })
    expect(runsOf(usage)).toBeUndefined()
  })

  it("error string: stops the run", () => {
    expect(runsOf(delta("a") + 'data: {"error":{"message":"overloaded"}}\n\n')).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
    expect(runsOf(delta("a") + delta("", '"error"'))).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
  })

  it("empty finish reason: parsed", () => {
    expect(runsOf(delta("a") + delta("", '""'))).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
  })

  it("quoted markers in text: plain", () => {
    // A JSON string escapes its quotes, so the markers in the text never match.
    const text = delta('say "error" and "usage":{') + delta('"finish_reason":"stop"')
    expect(runsOf(text)).toEqual({ end: endOf(text), events: 2, finish: false })
  })

  it("incomplete last event: left out", () => {
    const text = delta("a") + delta("b")
    expect(runsOf(text.slice(0, -1))).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
    expect(runsOf(text.slice(0, -20))).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
  })

  it("other forms: not plain", () => {
    expect(runsOf("data: [DONE]\n\n")).toBeUndefined()
    expect(runsOf(": keep-alive\n\n" + delta("a"))).toBeUndefined()
    expect(runsOf(delta("a").replace("\n\n", "\r\n\r\n"))).toBeUndefined()
    expect(runsOf("event: chunk\n" + delta("a"))).toBeUndefined()
    expect(runsOf('data: {"a":1} \n\n')).toBeUndefined()
    expect(runsOf('data: {"a":\ndata: 1}\n\n')).toBeUndefined()
    expect(runsOf("")).toBeUndefined()
  })

  it("finish after a stop: not counted", () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":3}}\n\n'
    expect(runsOf(delta("a") + usage + delta("", '"stop"'))).toEqual({ end: endOf(delta("a")), events: 1, finish: false })
  })
})
