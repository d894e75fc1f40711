/**
 * Test helpers for the Anthropic adapter: the shared recordings, a fake
 * `HttpTransport` that replays a body in chosen write patterns, and
 * collectors for streamed events.
 */
import { readFileSync } from "node:fs"
import {
  ChatStreamAssembler,
  formatSseEvent,
  type CallContext,
  type ChatCompletion,
  type ChatCompletionChunk,
  type HttpTransportService,
  type StreamEvent,
  type UpstreamRequest,
  type UpstreamResponse
} from "@fluxen/sdk"

/** The shared recordings, in the `shared/` folder that sits next to the repository. */
export const fixturesDir = new URL("../../../../shared/fixtures/anthropic/messages/", import.meta.url)

export const readFixtureText = (name: string): string => readFileSync(new URL(name, fixturesDir), "utf8")

export const readFixtureJson = (name: string): any => JSON.parse(readFixtureText(name))

const chunkLines = (text: string): Array<string> => text.split("\n").filter((line) => line.trim() !== "")

// Frames `.chunks.txt` lines as Anthropic does: an `event:` line named after the payload's `type`.
const frameChunkLines = (lines: ReadonlyArray<string>): Uint8Array =>
  new TextEncoder().encode(lines.map((line) => `event: ${JSON.parse(line).type}\ndata: ${line}\n\n`).join(""))

/**
 * A streaming fixture as the SSE bytes Anthropic sends. `.chunks.txt` lines
 * get an `event:` line named after the payload's `type`. An `.sse` body that
 * lost its final blank line gets it back unless `terminate` is false.
 */
export const streamFixtureBytes = (name: string, options?: { readonly terminate?: boolean }): Uint8Array => {
  const text = readFixtureText(name)
  if (name.endsWith(".chunks.txt")) return frameChunkLines(chunkLines(text))
  const terminate = options?.terminate ?? true
  const body = terminate && !text.endsWith("\n\n") ? text.replace(/\n?$/, "\n\n") : text
  return new TextEncoder().encode(body)
}

// No shared recording has 1-hour cache writes, so these helpers edit real recordings and set only
// their cache-write counts: 418 written tokens, 300 of them with the 1-hour lifetime.
const withOneHourSplit = (usage: Record<string, unknown>): Record<string, unknown> => ({
  ...usage,
  cache_creation_input_tokens: 418,
  cache_creation: { ephemeral_5m_input_tokens: 118, ephemeral_1h_input_tokens: 300 }
})

/** `cache-read-and-write.json` with 300 of its 418 cache-write tokens moved to the 1-hour lifetime. */
export const oneHourCacheWriteJson = (): string => {
  const message = readFixtureJson("cache-read-and-write.json")
  return JSON.stringify({ ...message, usage: withOneHourSplit(message.usage) })
}

/**
 * `text-stream.chunks.txt` as SSE bytes, with 418 cache-write tokens (300 of them 1-hour) in
 * `message_start` and the 418 total repeated without the split in `message_delta`, as Anthropic's
 * deltas do.
 */
export const oneHourCacheWriteStream = (): Uint8Array => {
  const edited = chunkLines(readFixtureText("text-stream.chunks.txt")).map((line) => {
    const payload = JSON.parse(line)
    if (payload.type === "message_start") {
      return JSON.stringify({ ...payload, message: { ...payload.message, usage: withOneHourSplit(payload.message.usage) } })
    }
    if (payload.type === "message_delta") return JSON.stringify({ ...payload, usage: { ...payload.usage, cache_creation_input_tokens: 418 } })
    return line
  })
  return frameChunkLines(edited)
}

export type WritePattern =
  | { readonly kind: "whole" }
  | { readonly kind: "per-event" }
  | { readonly kind: "slices"; readonly bytes: number }
  /** Cuts between the bytes of every occurrence of a multi-byte character. */
  | { readonly kind: "inside-character"; readonly character: string }

export const writePatterns: ReadonlyArray<{ readonly name: string; readonly pattern: WritePattern }> = [
  { name: "whole", pattern: { kind: "whole" } },
  { name: "per event", pattern: { kind: "per-event" } },
  { name: "1-byte slices", pattern: { kind: "slices", bytes: 1 } },
  { name: "7-byte slices", pattern: { kind: "slices", bytes: 7 } },
  { name: "cuts inside ÷", pattern: { kind: "inside-character", character: "÷" } }
]

const indexOfBytes = (haystack: Uint8Array, needle: Uint8Array, from: number): number => {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** Cuts a body into network writes. */
export const splitWrites = (body: Uint8Array, pattern: WritePattern): Array<Uint8Array> => {
  const cuts: Array<number> = []
  switch (pattern.kind) {
    case "whole":
      break
    case "per-event": {
      const separator = new TextEncoder().encode("\n\n")
      for (let at = indexOfBytes(body, separator, 0); at !== -1; at = indexOfBytes(body, separator, at + 2)) cuts.push(at + 2)
      break
    }
    case "slices":
      for (let at = pattern.bytes; at < body.length; at += pattern.bytes) cuts.push(at)
      break
    case "inside-character": {
      const encoded = new TextEncoder().encode(pattern.character)
      for (let at = indexOfBytes(body, encoded, 0); at !== -1; at = indexOfBytes(body, encoded, at + 1)) cuts.push(at + 1)
      break
    }
  }
  const writes: Array<Uint8Array> = []
  let start = 0
  for (const cut of [...cuts, body.length]) {
    if (cut > start) writes.push(body.slice(start, cut))
    start = cut
  }
  return writes
}

export interface FakeReply {
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body: Uint8Array | string
  readonly pattern?: WritePattern
  /** Throws this from the body after the writes, as a connection that breaks. */
  readonly failAfterWrites?: unknown
}

export interface FakeTransport extends HttpTransportService {
  readonly requests: Array<UpstreamRequest>
  /** How many responses were released early with `discard()`. */
  readonly discarded: () => number
}

/** A transport that returns the next queued reply for each request and records the requests. */
export const makeFakeTransport = (...replies: Array<FakeReply>): FakeTransport => {
  const requests: Array<UpstreamRequest> = []
  let discarded = 0
  return {
    requests,
    discarded: () => discarded,
    send: async (request) => {
      requests.push(request)
      const reply = replies.shift()
      if (reply === undefined) throw new Error(`No fake reply queued for ${request.method} ${request.url}`)
      const bytes = typeof reply.body === "string" ? new TextEncoder().encode(reply.body) : reply.body
      const writes = splitWrites(bytes, reply.pattern ?? { kind: "per-event" })
      async function* body(): AsyncGenerator<Uint8Array> {
        for (const write of writes) yield write
        if (reply!.failAfterWrites !== undefined) throw reply!.failAfterWrites
      }
      const response: UpstreamResponse = {
        status: reply.status ?? 200,
        headers: reply.headers ?? {},
        body: body(),
        bytes: async () => bytes,
        discard: () => {
          discarded++
        }
      }
      return response
    }
  }
}

export const makeContext = (overrides?: Partial<CallContext> & { readonly clientHeaderValues?: Record<string, string> }): CallContext => {
  const values = overrides?.clientHeaderValues ?? {}
  return {
    requestId: "req-test",
    upstreamModel: "claude-test-model",
    signal: new AbortController().signal,
    idleTimeoutMs: 5_000,
    clientHeaders: { get: (name) => values[name.toLowerCase()] },
    ...overrides
  }
}

export interface CollectedStream {
  readonly events: Array<StreamEvent>
  /** What the iteration threw, if anything. */
  readonly error: unknown
}

export const collectEvents = async (events: AsyncIterable<StreamEvent>): Promise<CollectedStream> => {
  const collected: Array<StreamEvent> = []
  try {
    for await (const event of events) collected.push(event)
    return { events: collected, error: undefined }
  } catch (error) {
    return { events: collected, error }
  }
}

export interface AssembledChat {
  readonly completion: ChatCompletion
  readonly reasoning: string
  readonly thinkingBlocks: Array<unknown>
}

/** Folds chat chunk events the way OpenAI clients do, plus the thinking fields outside OpenAI's schema. */
export const assembleChat = (events: ReadonlyArray<StreamEvent>): AssembledChat => {
  const assembler = new ChatStreamAssembler()
  let reasoning = ""
  const thinkingBlocks: Array<unknown> = []
  for (const event of events) {
    if (event.done === true || event.json === undefined) continue
    const chunk = event.json as ChatCompletionChunk
    assembler.add(chunk)
    for (const choice of chunk.choices) {
      if (typeof choice.delta.reasoning_content === "string") reasoning += choice.delta.reasoning_content
      if (Array.isArray(choice.delta.thinking_blocks)) thinkingBlocks.push(...choice.delta.thinking_blocks)
    }
  }
  return { completion: assembler.toCompletion(), reasoning, thinkingBlocks }
}

/** Serializes events the way the runtime writes them to the client. */
export const toSseText = (events: ReadonlyArray<StreamEvent>): string => events.map(formatSseEvent).join("")
