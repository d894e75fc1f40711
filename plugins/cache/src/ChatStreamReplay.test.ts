import { describe, expect, it } from "@effect/vitest"
import {
  chatCompletionToEventList,
  chatCompletionToStreamEvents,
  eventBatchesOf,
  REPLAY_PIECE_CHARS,
  usageFromOpenAI,
  type ChatCompletion,
  type ChatCompletionChunk,
  type StreamEvent
} from "@fluxen/sdk"
import { assembleWithGateway, assembleWithOpenAI, collectEvents, essentials, readFixture } from "./testing/fixtures.js"

const usage = {
  prompt_tokens: 40,
  completion_tokens: 90,
  total_tokens: 130,
  prompt_tokens_details: { cached_tokens: 8 },
  completion_tokens_details: { reasoning_tokens: 12 }
}

// Two choices, one with text and emoji that straddle piece boundaries, one
// with two tool calls whose arguments are longer than one piece.
const multiChoice: ChatCompletion = {
  id: "chatcmpl-multi",
  object: "chat.completion",
  created: 1_770_000_000,
  model: "gpt-4.1-nano-2025-04-14",
  system_fingerprint: "fp_test",
  choices: [
    {
      index: 1,
      message: {
        role: "assistant",
        content: null,
        refusal: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris", days: 3, notes: "x".repeat(150) }) } },
          { id: "call_b", type: "function", function: { name: "get_time", arguments: "{}" } }
        ]
      },
      finish_reason: "tool_calls",
      logprobs: null
    },
    {
      index: 0,
      message: { role: "assistant", content: "a".repeat(REPLAY_PIECE_CHARS - 1) + "🌍 and 👋 ".repeat(20), refusal: null },
      finish_reason: "length",
      logprobs: null
    }
  ],
  usage
}

const refusal: ChatCompletion = {
  id: "chatcmpl-refusal",
  object: "chat.completion",
  created: 1_770_000_001,
  model: "gpt-4.1-nano-2025-04-14",
  choices: [
    { index: 0, message: { role: "assistant", content: null, refusal: "I can't help with that." }, finish_reason: "stop", logprobs: null }
  ]
}

const cases: ReadonlyArray<readonly [string, ChatCompletion]> = [
  ["recorded text", readFixture("openai/chat-completions/text.json") as ChatCompletion],
  ["recorded tool call", readFixture("openai/chat-completions/tool-call.json") as ChatCompletion],
  ["two choices with tool calls", multiChoice],
  ["refusal without usage", refusal]
]

describe("chatCompletionToEventList", () => {
  for (const [name, completion] of cases) {
    it(`same events as the stream: ${name}`, async () => {
      const streamed = await collectEvents(chatCompletionToStreamEvents(completion, { includeUsage: true }))
      const listed = chatCompletionToEventList(completion, { includeUsage: true })

      expect(listed.map((event) => event.data)).toEqual(streamed.map((event) => event.data))
      expect(listed.map((event) => event.usage)).toEqual(streamed.map((event) => event.usage))
      expect(essentials(await assembleWithOpenAI(listed))).toEqual(essentials(completion))
    })
  }

  it("keeps no parsed payload", () => {
    const listed = chatCompletionToEventList(cases[0]![1], { includeUsage: true })
    const chunk = listed[0]!

    expect(chunk.json).toEqual(chunk.json)
    expect(chunk.json).not.toBe(chunk.json)
    const usageChunk = listed.find((event) => event.usageOnly === true)
    expect(usageChunk?.json).toEqual(usageChunk?.json)
    expect(usageChunk?.json).not.toBe(usageChunk?.json)
  })
})

describe("chatCompletionToStreamEvents", () => {
  for (const [name, completion] of cases) {
    it(`gateway assembler rebuilds ${name}`, async () => {
      const events = await collectEvents(chatCompletionToStreamEvents(completion, { includeUsage: true }))

      expect(essentials(assembleWithGateway(events))).toEqual(essentials(completion))
    })

    it(`OpenAI SDK rebuilds ${name}`, async () => {
      const events = await collectEvents(chatCompletionToStreamEvents(completion, { includeUsage: true }))

      const assembled = await assembleWithOpenAI(events)

      expect(essentials(assembled)).toEqual(essentials(completion))
      expect(assembled.id).toBe(completion.id)
      expect(assembled.model).toBe(completion.model)
      expect(assembled.created).toBe(completion.created)
    })
  }

  it("ends with a usage-only chunk and DONE", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: true }))

    const done = events.at(-1)
    const usageEvent = events.at(-2)
    expect(done).toEqual({ data: "[DONE]", done: true })
    expect(usageEvent?.usageOnly).toBe(true)
    expect(usageEvent?.usage).toEqual(usageFromOpenAI(usage))
    expect((usageEvent?.json as ChatCompletionChunk).choices).toEqual([])
    expect((usageEvent?.json as ChatCompletionChunk).usage).toEqual(usage)
    expect(events.filter((event) => event.usageOnly === true)).toHaveLength(1)
    expect(events.filter((event) => event.usage !== undefined)).toHaveLength(1)
  })

  it("leaves usage out when not asked", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: false }))

    expect(events.some((event) => event.usage !== undefined || event.usageOnly === true)).toBe(false)
    expect(events.at(-1)?.done).toBe(true)
  })

  it("leaves usage out when none is known", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(refusal, { includeUsage: true }))

    expect(events.some((event) => event.usageOnly === true)).toBe(false)
  })

  it("attaches the given usage", async () => {
    const given = { promptTokens: 1, completionTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }

    const events = await collectEvents(chatCompletionToStreamEvents(refusal, { includeUsage: true, usage: given }))

    const usageEvent = events.find((event) => event.usageOnly === true)
    expect(usageEvent?.usage).toEqual(given)
    expect((usageEvent?.json as ChatCompletionChunk).usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })
  })

  it("writes data as the JSON of each chunk", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: true }))

    for (const event of events.slice(0, -1)) {
      expect(JSON.parse(event.data)).toEqual(event.json)
      expect((event.json as ChatCompletionChunk).object).toBe("chat.completion.chunk")
      expect((event.json as ChatCompletionChunk).id).toBe("chatcmpl-multi")
      expect((event.json as ChatCompletionChunk).system_fingerprint).toBe("fp_test")
    }
  })

  it("one batch: same events", async () => {
    const iterator = eventBatchesOf(chatCompletionToStreamEvents(multiChoice, { includeUsage: true }))!
    const first = await iterator.next()
    const second = await iterator.next()
    const single = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: true }))

    expect(first.done).toBe(false)
    expect(second.done).toBe(true)
    expect((first.value as ReadonlyArray<StreamEvent>).map((event) => event.data)).toEqual(single.map((event) => event.data))
  })

  it("cuts text into pieces without splitting emoji", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: false }))

    const pieces = events
      .map((event) => (event.json as ChatCompletionChunk | undefined)?.choices[0]?.delta.content)
      .filter((content): content is string => typeof content === "string" && content !== "")
    expect(pieces.length).toBeGreaterThan(2)
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(REPLAY_PIECE_CHARS + 1)
      expect(piece).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/)
    }
  })

  it("numbers tool call deltas by index", async () => {
    const events = await collectEvents(chatCompletionToStreamEvents(multiChoice, { includeUsage: false }))

    const toolDeltas = events.flatMap((event) => (event.json as ChatCompletionChunk | undefined)?.choices[0]?.delta.tool_calls ?? [])
    const openings = toolDeltas.filter((delta) => delta.id !== undefined)
    expect(openings.map((delta) => [delta.index, delta.id, delta.function?.name])).toEqual([
      [0, "call_a", "get_weather"],
      [1, "call_b", "get_time"]
    ])
    expect(toolDeltas.filter((delta) => delta.index === 0).length).toBeGreaterThan(2)
  })

  /** A completion with one choice whose message is `message`, ended by its tool calls. */
  const toolCallAnswer = (message: ChatCompletion["choices"][number]["message"]): ChatCompletion => ({
    ...multiChoice,
    choices: [{ index: 0, message, finish_reason: "tool_calls", logprobs: null }]
  })

  it("keeps tool call extra fields", async () => {
    const signed = toolCallAnswer({
      role: "assistant",
      content: null,
      reasoning_content: "The user wants the weather.",
      tool_calls: [
        { id: "call_0", type: "function", function: { name: "weather", arguments: '{"location":"Paris"}' }, extra_content: { google: { thought_signature: "c2lnbmF0dXJl" } } }
      ]
    })
    const events = await collectEvents(chatCompletionToStreamEvents(signed, { includeUsage: true }))

    const rebuilt = assembleWithGateway(events).choices[0]!.message
    expect(rebuilt.reasoning_content).toBe("The user wants the weather.")
    expect(rebuilt.tool_calls?.[0]).toMatchObject({ id: "call_0", extra_content: { google: { thought_signature: "c2lnbmF0dXJl" } } })
    const viaSdk = (await assembleWithOpenAI(events)).choices[0]!.message as unknown as Record<string, any>
    expect(viaSdk.tool_calls[0].extra_content).toEqual({ google: { thought_signature: "c2lnbmF0dXJl" } })
  })

  it("stored tool call index: replay numbers it", async () => {
    const stored = toolCallAnswer({
      role: "assistant",
      content: null,
      tool_calls: [{ index: 7, id: "call_0", type: "function", function: { name: "weather", arguments: "{}" } } as never]
    })
    const events = await collectEvents(chatCompletionToStreamEvents(stored, { includeUsage: false }))

    const indexes = events.flatMap((event) => ((event.json as ChatCompletionChunk | undefined)?.choices ?? []).flatMap((choice) => (choice.delta.tool_calls ?? []).map((call) => call.index)))
    expect(indexes.length).toBeGreaterThan(0)
    expect(new Set(indexes)).toEqual(new Set([0]))
  })

  it("keeps extra message fields", async () => {
    const recorded = readFixture("openai/chat-completions/text.json") as ChatCompletion

    const assembled = await assembleWithOpenAI(await collectEvents(chatCompletionToStreamEvents(recorded, { includeUsage: true })))

    expect(assembled.choices[0]?.message.annotations).toEqual([])
    expect(assembled.system_fingerprint).toBe(recorded.system_fingerprint)
  })
})
