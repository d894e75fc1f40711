/** Requests, contexts, outcomes and recorded completions shared by the cache tests. */
import { readFileSync } from "node:fs"
import {
  ChatStreamAssembler,
  formatSseEvent,
  SseParser,
  usageFromOpenAI,
  type CanonicalRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type Endpoint,
  type Outcome,
  type RequestContext,
  type StreamEvent,
  type Usage
} from "@fluxen/sdk"
import OpenAI from "openai"

// CI clones the repository next to a `shared/` folder, so the recorded
// provider responses are found relative to this file.
const fixturesDir = new URL("../../../../../shared/fixtures/", import.meta.url)

export const readFixture = (path: string): unknown => JSON.parse(readFileSync(new URL(path, fixturesDir), "utf8"))

/**
 * Reads a recorded chat stream the way the host does for `afterResponse`:
 * the chunks assembled into one completion, and the last usage seen.
 */
export const assembleSseFixture = (path: string): { readonly completion: ChatCompletion; readonly usage: Usage | undefined } => {
  const parser = new SseParser()
  const assembler = new ChatStreamAssembler()
  let usage: Usage | undefined
  for (const event of [...parser.push(readFileSync(new URL(path, fixturesDir))), ...parser.end()]) {
    if (event.data === "[DONE]") continue
    const chunk = JSON.parse(event.data) as ChatCompletionChunk
    assembler.add(chunk)
    usage = usageFromOpenAI(chunk.usage) ?? usage
  }
  if (!assembler.isComplete()) throw new Error(`The recorded stream ${path} did not finish every choice.`)
  return { completion: assembler.toCompletion(), usage }
}

export const chatRequest = (content = "Invent a holiday.") => ({
  model: "gpt-4.1-nano",
  messages: [{ role: "user" as const, content }]
})

export interface ContextOptions {
  readonly endpoint?: Endpoint
  readonly request?: CanonicalRequest
  readonly stream?: boolean
  readonly headers?: Readonly<Record<string, string>>
  readonly team?: string | null
  readonly keyId?: string | null
  readonly provider?: string
  readonly upstreamModel?: string
}

let requestCounter = 0

export const makeContext = (options: ContextOptions = {}): RequestContext => {
  requestCounter++
  const headers = new Map(Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]))
  const request = options.request ?? chatRequest()
  return {
    requestId: `req_${requestCounter}`,
    endpoint: options.endpoint ?? "chat",
    stream: options.stream ?? false,
    startedAt: Date.now(),
    headers: { get: (name) => headers.get(name.toLowerCase()) },
    request: options.stream === true ? { ...request, stream: true } : request,
    route: {
      requestedModel: request.model,
      provider: options.provider ?? "openai",
      upstreamModel: options.upstreamModel ?? "gpt-4.1-nano-2025-04-14"
    },
    caller: { keyId: options.keyId ?? null, team: options.team ?? null, metadata: {} },
    record: {},
    responseHeaders: {},
    attributes: new Map()
  }
}

/** The outcome the host reports for a response that reached the client whole. */
export const okOutcome = (response: unknown, usage: Usage | undefined): Outcome => ({
  status: "ok",
  httpStatus: 200,
  usage,
  error: undefined,
  response,
  streamedText: "",
  answeredByHook: false
})

/** Reads every event of a stream. */
export const collectEvents = async (events: AsyncIterable<StreamEvent>): Promise<Array<StreamEvent>> => {
  const collected: Array<StreamEvent> = []
  for await (const event of events) collected.push(event)
  return collected
}

/** Folds stream events with the gateway's own assembler, as the host does for `afterResponse`. */
export const assembleWithGateway = (events: ReadonlyArray<StreamEvent>): ChatCompletion => {
  const assembler = new ChatStreamAssembler()
  for (const event of events) {
    if (event.json !== undefined && event.done !== true) assembler.add(event.json as ChatCompletionChunk)
  }
  if (!assembler.isComplete()) throw new Error("The replayed stream left a choice without a finish reason.")
  return assembler.toCompletion()
}

/**
 * Folds stream events with the OpenAI SDK's stream helper. The SDK reads the
 * events as SSE text from a `fetch` stand-in, so no request leaves the process.
 */
export const assembleWithOpenAI = async (events: ReadonlyArray<StreamEvent>) => {
  const sse = events.map((event) => formatSseEvent(event)).join("")
  const client = new OpenAI({
    apiKey: "test-key",
    baseURL: "http://127.0.0.1:9/v1",
    maxRetries: 0,
    fetch: async () => new Response(sse, { status: 200, headers: { "content-type": "text/event-stream" } })
  })
  const stream = client.chat.completions.stream({
    model: "gpt-4.1-nano",
    messages: [{ role: "user", content: "Replay." }],
    stream_options: { include_usage: true }
  })
  return stream.finalChatCompletion()
}

/** The parts of a chat completion a replay must keep: per choice the text, tool calls and finish reason, and the usage. */
export const essentials = (completion: unknown) => {
  const value = completion as ChatCompletion
  return {
    choices: [...value.choices]
      .sort((a, b) => a.index - b.index)
      .map((choice) => ({
        index: choice.index,
        finishReason: choice.finish_reason,
        content: choice.message.content ?? null,
        refusal: choice.message.refusal ?? null,
        toolCalls: (choice.message.tool_calls ?? []).map((call) => ({
          id: call.id,
          type: call.type,
          name: call.function.name,
          arguments: call.function.arguments
        }))
      })),
    usage: value.usage ?? null
  }
}
