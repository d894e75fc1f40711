import { readdirSync, readFileSync, statSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { formatSseEvent, type SseEvent, SseEventTooLargeError, SseParser } from "./Sse.js"

// CI clones the repository next to a `shared/` folder, so the fixtures are
// found relative to this file and never through an absolute path.
const fixturesDir = new URL("../../../shared/fixtures/", import.meta.url)

const encoder = new TextEncoder()
const bytesOf = (text: string): Uint8Array => encoder.encode(text)

const listSseFixtures = (dir: URL, prefix = ""): Array<string> => {
  const found: Array<string> = []
  for (const name of readdirSync(dir).sort()) {
    const entry = new URL(name, dir)
    if (statSync(entry).isDirectory()) {
      found.push(...listSseFixtures(new URL(`${name}/`, dir), `${prefix}${name}/`))
    } else if (name.endsWith(".sse")) {
      found.push(`${prefix}${name}`)
    }
  }
  return found
}

const readFixture = (relPath: string): Uint8Array => new Uint8Array(readFileSync(new URL(relPath, fixturesDir)))

/** Parses `chunks` with a fresh parser and returns every event, including any from end(). */
const parseChunks = (chunks: Iterable<Uint8Array>, options?: { readonly maxEventBytes?: number }): Array<SseEvent> => {
  const parser = new SseParser(options)
  const events: Array<SseEvent> = []
  for (const chunk of chunks) events.push(...parser.push(chunk))
  events.push(...parser.end())
  return events
}

const parseText = (...chunks: Array<string>): Array<SseEvent> => parseChunks(chunks.map(bytesOf))

const sliceBytes = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const slices: Array<Uint8Array> = []
  for (let start = 0; start < bytes.length; start += size) slices.push(bytes.subarray(start, start + size))
  return slices
}

/** Cuts a body after each blank line (LF LF or CRLF CRLF), the way a provider writes one event at a time. */
const splitAfterBlankLines = (bytes: Uint8Array): Array<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  let start = 0
  for (let i = 0; i < bytes.length; i++) {
    const endsLfLf = bytes[i] === 0x0a && bytes[i - 1] === 0x0a
    const endsCrlfCrlf = bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d
    if (endsLfLf || endsCrlfCrlf) {
      pieces.push(bytes.subarray(start, i + 1))
      start = i + 1
    }
  }
  if (start < bytes.length) pieces.push(bytes.subarray(start))
  return pieces
}

const jsonOf = (event: SseEvent | undefined): any => JSON.parse(event?.data ?? "null")

const sseFixtures = listSseFixtures(fixturesDir)

describe("SseParser on recorded fixtures", () => {
  it("finds the .sse fixtures", () => {
    expect(sseFixtures).toContain("openai/chat-completions/text-stream-usage.sse")
    expect(sseFixtures.length).toBeGreaterThanOrEqual(7)
  })

  describe.each(sseFixtures)("%s", (relPath) => {
    const bytes = readFixture(relPath)
    const whole = parseChunks([bytes])

    it("yields events from one push", () => {
      expect(whole.length).toBeGreaterThan(0)
    })

    it("matches one push per event", () => {
      expect(parseChunks(splitAfterBlankLines(bytes))).toStrictEqual(whole)
    })

    it.each([1, 3, 7, 64])("matches %i-byte slices", (size) => {
      expect(parseChunks(sliceBytes(bytes, size))).toStrictEqual(whole)
    })

    it("round-trips through formatSseEvent", () => {
      const text = whole.map(formatSseEvent).join("")
      expect(parseText(text)).toStrictEqual(whole)
    })
  })
})

describe("SseParser fixture contents", () => {
  it("OpenAI chat stream with usage", () => {
    const events = parseChunks([readFixture("openai/chat-completions/text-stream-usage.sse")])
    expect(events).toHaveLength(12)
    expect(events.at(-1)).toStrictEqual({ data: "[DONE]" })
    expect(events.every((event) => event.event === undefined)).toBe(true)

    const usageChunk = jsonOf(events.at(-2))
    expect(usageChunk.choices).toEqual([])
    expect(usageChunk.usage.prompt_tokens).toBe(78)
    expect(usageChunk.usage.completion_tokens).toBe(9)
    expect(usageChunk.usage.total_tokens).toBe(87)

    const text = events
      .slice(0, -1)
      .map((event) => jsonOf(event).choices[0]?.delta?.content ?? "")
      .join("")
    expect(text).toBe("The capital of the UK is London.")
  })

  it("OpenAI chat stream without usage", () => {
    const events = parseChunks(sliceBytes(readFixture("openai/chat-completions/text-stream-no-usage.sse"), 3))
    expect(events).toHaveLength(51)
    expect(events.at(-1)?.data).toBe("[DONE]")

    const text = events
      .slice(0, -1)
      .map((event) => jsonOf(event).choices[0]?.delta?.content ?? "")
      .join("")
    expect(text).toContain("what you’d like")
    expect(events.slice(0, -1).some((event) => "usage" in jsonOf(event))).toBe(false)
  })

  it("OpenAI tool call stream", () => {
    const events = parseChunks(sliceBytes(readFixture("openai/chat-completions/tool-call-stream-usage.sse"), 7))
    expect(events).toHaveLength(9)
    expect(events.at(-1)?.data).toBe("[DONE]")

    const argumentsText = events
      .slice(0, -1)
      .flatMap((event) => jsonOf(event).choices[0]?.delta?.tool_calls ?? [])
      .map((call: any) => call.function?.arguments ?? "")
      .join("")
    expect(argumentsText).toBe('{"country":"UK"}')
    expect(jsonOf(events.at(-2)).usage.total_tokens).toBe(68)
  })

  it("OpenAI Responses stream", () => {
    const events = parseChunks(sliceBytes(readFixture("openai/responses/text-stream.sse"), 1))
    expect(events).toHaveLength(18)
    for (const event of events) {
      expect(event.event).toBe(jsonOf(event).type)
    }
    expect(events[0]?.event).toBe("response.created")
    expect(events.at(-1)?.event).toBe("response.completed")
    expect(jsonOf(events.at(-1)).response.usage.total_tokens).toBe(21)

    const deltas = events.filter((event) => event.event === "response.output_text.delta").map((event) => jsonOf(event).delta)
    expect(deltas).toHaveLength(10)
    expect(deltas).toContain(" 🌍")
  })

  it("Anthropic stream with cache read", () => {
    const events = parseChunks(sliceBytes(readFixture("anthropic/messages/cache-read-stream.sse"), 3))
    expect(events).toHaveLength(16)
    for (const event of events) {
      expect(event.event).toBe(jsonOf(event).type)
    }
    const usage = jsonOf(events[0]).message.usage
    expect(usage.input_tokens).toBe(11)
    expect(usage.cache_read_input_tokens).toBe(1031)
    expect(events.at(-1)?.event).toBe("message_stop")
  })

  it("Anthropic stream missing its last blank line", () => {
    const bytes = readFixture("anthropic/messages/tool-use-stream.sse")
    const parser = new SseParser()
    const events = parser.push(bytes)
    // The file has 15 events, but the last one is never terminated, so the
    // rules drop it at end of input.
    expect(events).toHaveLength(14)
    expect(events.at(-1)?.event).toBe("message_delta")
    expect(parser.end()).toStrictEqual([])

    const terminated = parseChunks([bytes, bytesOf("\n\n")])
    expect(terminated).toHaveLength(15)
    expect(terminated.at(-1)).toStrictEqual({ event: "message_stop", data: '{"type":"message_stop"}' })

    const partialJson = terminated
      .filter((event) => event.event === "content_block_delta")
      .map((event) => jsonOf(event).delta.partial_json ?? "")
      .join("")
    expect(partialJson).toBe('{"location": "Paris"}')
  })

  it("Gemini streams separated by CRLF", () => {
    const raw = readFixture("gemini/stream-generate-content/cumulative-usage-stream.sse")
    expect(new TextDecoder().decode(raw)).toContain("\r\n\r\n")

    const events = parseChunks(sliceBytes(raw, 1))
    expect(events).toHaveLength(3)
    expect(events.map((event) => jsonOf(event).usageMetadata.candidatesTokenCount)).toEqual([31, 79, 80])
    expect(jsonOf(events.at(-1)).usageMetadata.totalTokenCount).toBe(133)
    // No CR may leak into a value when the CRLF is split between pushes.
    expect(events.some((event) => event.data.includes("\r"))).toBe(false)

    const text = parseChunks([readFixture("gemini/stream-generate-content/text-stream.sse")])
    expect(text).toHaveLength(3)
    expect(jsonOf(text.at(-1)).usageMetadata.promptTokenCount).toBe(13)
  })
})

describe("SseParser line rules", () => {
  it("ignores comment lines", () => {
    // OpenRouter sends comments like this while it waits for the model.
    const events = parseText(": OPENROUTER PROCESSING\n\n", ": OPENROUTER PROCESSING\n\n", 'data: {"a":1}\n', ":x\n", "\n")
    expect(events).toStrictEqual([{ data: '{"a":1}' }])
  })

  it("joins multi-line data with LF", () => {
    expect(parseText("data: one\ndata: two\ndata:\ndata: three\n\n")).toStrictEqual([{ data: "one\ntwo\n\nthree" }])
  })

  it("strips one space after the colon", () => {
    expect(parseText("data:x\n\ndata:  y\n\ndata: z \n\n")).toStrictEqual([{ data: "x" }, { data: " y" }, { data: "z " }])
  })

  it("reads a field without a colon", () => {
    expect(parseText("data\n\n")).toStrictEqual([{ data: "" }])
    expect(parseText("data\ndata\n\n")).toStrictEqual([{ data: "\n" }])
    expect(parseText("event\ndata: x\n\n")).toStrictEqual([{ data: "x" }])
  })

  it("reports event and id fields", () => {
    expect(parseText("event: ping\nid: 7\ndata: {}\n\n")).toStrictEqual([{ event: "ping", data: "{}", id: "7" }])
    expect(parseText("id: 1\ndata: a\n\ndata: b\n\n")).toStrictEqual([{ data: "a", id: "1" }, { data: "b" }])
    expect(parseText("id: a\u0000b\ndata: x\n\n")).toStrictEqual([{ data: "x" }])
  })

  it("skips events without data", () => {
    expect(parseText("event: ping\n\ndata: after\n\n")).toStrictEqual([{ data: "after" }])
    expect(parseText("id: 3\nretry: 1000\n\n")).toStrictEqual([])
  })

  it("ignores unknown fields and retry", () => {
    expect(parseText("retry: 10\nfoo: bar\nDATA: shout\ndata: kept\n\n")).toStrictEqual([{ data: "kept" }])
  })

  it("accepts CR-only line endings", () => {
    expect(parseText("data: a\rdata: b\r\revent: e\rdata: c\r\r")).toStrictEqual([
      { data: "a\nb" },
      { event: "e", data: "c" }
    ])
  })

  it("accepts mixed line endings", () => {
    expect(parseText("data: a\r\ndata: b\rdata: c\n\r\n")).toStrictEqual([{ data: "a\nb\nc" }])
  })

  it("joins a CRLF split across pushes", () => {
    // If the LF were read as a line of its own, the blank line would end the
    // event after "x" and yield two events.
    expect(parseText("data: x\r", "\ndata: y\r\n\r\n")).toStrictEqual([{ data: "x\ny" }])
    expect(parseText("data: x\r", "", "\ndata: y\r", "\n\r", "\n")).toStrictEqual([{ data: "x\ny" }])
  })

  it("dispatches on CR at chunk end", () => {
    const parser = new SseParser()
    expect(parser.push(bytesOf("data: x\r\r"))).toStrictEqual([{ data: "x" }])
    expect(parser.push(bytesOf("\ndata: y\n\n"))).toStrictEqual([{ data: "y" }])
  })

  it("decodes a 4-byte emoji split across pushes", () => {
    const bytes = bytesOf("data: 👋🌍\n\n")
    const emojiStart = bytesOf("data: ").length
    for (let cut = emojiStart + 1; cut < emojiStart + 8; cut++) {
      expect(parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)])).toStrictEqual([{ data: "👋🌍" }])
    }
    expect(parseChunks(sliceBytes(bytes, 1))).toStrictEqual([{ data: "👋🌍" }])
  })

  it("replaces invalid UTF-8 per line", () => {
    const bytes = new Uint8Array([...bytesOf("data: a"), 0xf0, 0x9f, ...bytesOf("\ndata: b\n\n")])
    expect(parseChunks([bytes])).toStrictEqual([{ data: "a\uFFFD\nb" }])
  })

  it("strips a BOM only at stream start", () => {
    const bom = [0xef, 0xbb, 0xbf]
    const bytes = new Uint8Array([...bom, ...bytesOf("data: x\n\n")])
    expect(parseChunks([bytes])).toStrictEqual([{ data: "x" }])
    expect(parseChunks(sliceBytes(bytes, 1))).toStrictEqual([{ data: "x" }])
    expect(parseChunks(sliceBytes(bytes, 2))).toStrictEqual([{ data: "x" }])

    const laterBom = new Uint8Array([...bytesOf("data: x\n\ndata: "), ...bom, ...bytesOf("y\n\n")])
    expect(parseChunks([laterBom])).toStrictEqual([{ data: "x" }, { data: "\uFEFFy" }])
  })

  it("keeps bytes that only look like a BOM start", () => {
    // With the two bytes kept, the field name is "\xEF\xBBdata", which is unknown,
    // so the line is ignored. Dropping them would wrongly yield a data event.
    const bytes = new Uint8Array([0xef, 0xbb, ...bytesOf("data: x\n\n")])
    expect(parseChunks([bytes])).toStrictEqual([])
    expect(parseChunks(sliceBytes(bytes, 1))).toStrictEqual([])
  })

  it("drops an unterminated event at end", () => {
    const parser = new SseParser()
    expect(parser.push(bytesOf("data: a\n\ndata: b\n"))).toStrictEqual([{ data: "a" }])
    expect(parser.end()).toStrictEqual([])
  })

  it("rejects push after end", () => {
    const parser = new SseParser()
    parser.end()
    expect(() => parser.push(bytesOf("data: x\n\n"))).toThrow(/after end/)
  })

  it("parses JSON split at every offset", () => {
    const text = 'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":65}}\n\n'
    const bytes = bytesOf(text)
    const expected = [{ event: "message_delta", data: '{"type":"message_delta","usage":{"output_tokens":65}}' }]
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)])).toStrictEqual(expected)
    }
  })
})

describe("SseParser size limit", () => {
  it("throws for an oversized complete line", () => {
    const parser = new SseParser({ maxEventBytes: 1024 })
    const line = `data: ${"x".repeat(2000)}\n\n`
    expect(() => parser.push(bytesOf(line))).toThrow(SseEventTooLargeError)
  })

  it("throws while an unfinished line grows", () => {
    const parser = new SseParser({ maxEventBytes: 1024 })
    parser.push(bytesOf(`data: ${"x".repeat(1000)}`))
    let error: unknown
    try {
      parser.push(bytesOf("x".repeat(100)))
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(SseEventTooLargeError)
    expect((error as SseEventTooLargeError).maxEventBytes).toBe(1024)
    expect((error as SseEventTooLargeError).message).toContain("1024 bytes")
    expect((error as SseEventTooLargeError).message).toContain("maxEventBytes")
  })

  it("counts every line of one event", () => {
    const line = `data: ${"x".repeat(94)}\n`
    const parser = new SseParser({ maxEventBytes: 1000 })
    expect(() => parser.push(bytesOf(line.repeat(11)))).toThrow(SseEventTooLargeError)
  })

  it("resets the count at each event", () => {
    const event = `data: ${"x".repeat(994)}\n\n`
    const events = parseChunks([bytesOf(event.repeat(5))], { maxEventBytes: 1000 })
    expect(events).toHaveLength(5)
  })

  it("allows an event at the limit", () => {
    const events = parseChunks(sliceBytes(bytesOf(`data: ${"x".repeat(994)}\n\n`), 10), { maxEventBytes: 1000 })
    expect(events[0]?.data).toHaveLength(994)
  })

  it("ignores completed comments", () => {
    const events = parseText(`: ${"c".repeat(900)}\n`.repeat(3), "data: ok\n\n")
    expect(events).toStrictEqual([{ data: "ok" }])
  })

  it("stays failed after the error", () => {
    const parser = new SseParser({ maxEventBytes: 10 })
    expect(() => parser.push(bytesOf("data: 0123456789\n"))).toThrow(SseEventTooLargeError)
    expect(() => parser.push(bytesOf("data: x\n\n"))).toThrow(SseEventTooLargeError)
    expect(() => parser.end()).toThrow(SseEventTooLargeError)
  })

  it("rejects an invalid limit", () => {
    expect(() => new SseParser({ maxEventBytes: 0 })).toThrow(RangeError)
    expect(() => new SseParser({ maxEventBytes: 1.5 })).toThrow(RangeError)
  })
})

describe("SseParser long lines", () => {
  const pushInPieces = (dataBytes: number, pieceBytes: number): SseEvent | undefined => {
    const parser = new SseParser()
    const piece = new Uint8Array(pieceBytes).fill(0x61)
    parser.push(bytesOf("data: "))
    for (let sent = 0; sent < dataBytes; sent += pieceBytes) parser.push(piece)
    return parser.push(bytesOf("\n\n"))[0]
  }

  const fastestMs = (run: () => void): number => {
    let best = Number.POSITIVE_INFINITY
    for (let attempt = 0; attempt < 3; attempt++) {
      const start = performance.now()
      run()
      best = Math.min(best, performance.now() - start)
    }
    return best
  }

  it("parses a 2 MiB line in 1 KiB pieces", () => {
    const event = pushInPieces(2 * 1024 * 1024, 1024)
    expect(event?.data.length).toBe(2 * 1024 * 1024)
    expect(event?.data.startsWith("aaaa")).toBe(true)
  })

  it("scales linearly with line length", () => {
    const oneMiB = 1024 * 1024
    fastestMs(() => pushInPieces(oneMiB, 1024))
    const small = fastestMs(() => pushInPieces(oneMiB, 1024))
    const large = fastestMs(() => pushInPieces(4 * oneMiB, 1024))
    // Linear work gives a ratio near 4, and rescanning the whole line on each
    // push would give about 16.
    expect(large / small).toBeLessThan(8)
  })
})

describe("formatSseEvent", () => {
  it("writes data only", () => {
    expect(formatSseEvent({ data: '{"a":1}' })).toBe('data: {"a":1}\n\n')
  })

  it("writes event and id before data", () => {
    expect(formatSseEvent({ event: "message_stop", id: "9", data: "{}" })).toBe("event: message_stop\nid: 9\ndata: {}\n\n")
  })

  it("splits multi-line data", () => {
    expect(formatSseEvent({ data: "a\nb\r\nc\rd" })).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n")
    expect(formatSseEvent({ data: "a\n" })).toBe("data: a\ndata: \n\n")
    expect(formatSseEvent({ data: "" })).toBe("data: \n\n")
  })

  it("round-trips leading spaces and blank lines", () => {
    const events = [{ data: " lead\n\ntrail " }, { event: "x", data: "" }]
    expect(parseText(events.map(formatSseEvent).join(""))).toStrictEqual(events)
  })

  it("rejects line breaks in event and id", () => {
    expect(() => formatSseEvent({ event: "a\nb", data: "x" })).toThrow(/event field/)
    expect(() => formatSseEvent({ id: "1\r", data: "x" })).toThrow(/id field/)
  })
})

describe("SseParser on Node Buffers", () => {
  it("decodes Buffers as plain byte arrays", () => {
    const text = "data: caf\u00e9 \ud83c\udf0d\n\ndata: \ufeffkept\n\n"
    const invalid = [0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x0a, 0x0a]
    const bytes = [...new TextEncoder().encode(text), ...invalid]
    const parse = (chunk: Uint8Array) => new SseParser().push(chunk)

    const fromBuffer = parse(Buffer.from(bytes))
    const fromArray = parse(new Uint8Array(bytes))

    expect(fromBuffer).toEqual(fromArray)
    expect(fromBuffer.map((event) => event.data)).toEqual(["caf\u00e9 \ud83c\udf0d", "\ufeffkept", fromArray[2]!.data])
    expect(fromBuffer[2]!.data).toContain("\ufffd")
  })
})
