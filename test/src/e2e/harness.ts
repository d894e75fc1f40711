/**
 * Shared steps of the end-to-end tests: a gateway in front of a replaying
 * upstream, an OpenAI client pointed at it, and readers for the values the
 * tests compare against the recorded fixtures.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { readFileSync } from "node:fs"
import type { UsageRecord } from "@fluxen/runtime"
import { fixturesDir } from "../support/fixtures.js"
import { startTestGateway, type TestGateway, type TestGatewayOptions } from "../support/gateway.js"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"

/** The key the generated configuration sends upstream. It must never reach a client. */
export const UPSTREAM_API_KEY = "sk-test-upstream-key"

/** The key the test clients send to Fluxen; Fluxen must not pass it upstream. */
export const CLIENT_API_KEY = "sk-client-key"

/** The key the Anthropic provider of {@link anthropicProviderYaml} sends upstream. */
export const ANTHROPIC_UPSTREAM_KEY = "sk-ant-test-upstream-key"

/** YAML lines for `providersYaml`: a provider named `anthropic` whose API root is `upstreamUrl/v1`. */
export const anthropicProviderYaml = (upstreamUrl: string): string => `  anthropic:
    use: "@fluxen/provider-anthropic"
    config:
      baseUrl: ${upstreamUrl}/v1
      apiKey: ${ANTHROPIC_UPSTREAM_KEY}
`

/** YAML lines for `providersYaml`: a provider named `gemini` whose API root is `upstreamUrl/v1beta`. */
export const geminiProviderYaml = (upstreamUrl: string): string => `  gemini:
    use: "@fluxen/provider-gemini"
    config:
      baseUrl: ${upstreamUrl}/v1beta
      apiKey: gemini-test-upstream-key
`

/**
 * YAML lines for `providersYaml`: OpenAI providers named `primary` and `backup`, whose API roots
 * are `upstreamUrl/primary/v1` and `upstreamUrl/backup/v1`, so the upstream's request paths show
 * which one was called.
 */
export const openaiPairProvidersYaml = (upstreamUrl: string): string => `  primary:
    use: "@fluxen/provider-openai"
    config:
      baseUrl: ${upstreamUrl}/primary/v1
      apiKey: primary-key
  backup:
    use: "@fluxen/provider-openai"
    config:
      baseUrl: ${upstreamUrl}/backup/v1
      apiKey: backup-key
`

/** YAML lines for `modelsYaml`: the model `name`, sent to `primary` and then, on a failure, to `backup`, as upstream model `name`. */
export const orderedPairYaml = (name: string): string => `  ${name}:
    strategy: ordered
    deployments:
      - provider: primary
        model: ${name}
      - provider: backup
        model: ${name}
`

/** YAML lines for `modelsYaml`: the model `name` on `primary`, retried once after a failure. */
export const retryingModelYaml = (name: string): string => `  ${name}:
    provider: primary
    model: ${name}
    retry:
      attempts: 1
      initialDelay: 10
      maxDelay: 1 second
`

/** Plugin section that loads no plugin, for tests that must not depend on the analyzer. */
export const NO_PLUGINS = "plugins: []"

export interface Harness {
  readonly upstream: ReplayUpstream
  readonly gateway: TestGateway
  readonly client: OpenAI
  readonly close: () => Promise<void>
}

export interface HarnessOptions extends Omit<TestGatewayOptions, "upstreamUrl" | "providersYaml"> {
  /** YAML lines added under `providers:`. A function receives the upstream's URL, for a provider's `baseUrl`. */
  readonly providersYaml?: string | ((upstreamUrl: string) => string)
}

/** Starts a replaying upstream and a gateway in front of it, with an OpenAI client that never retries. */
export const startHarness = async (options: HarnessOptions = {}): Promise<Harness> => {
  const upstream = await startReplayUpstream()
  const providersYaml = typeof options.providersYaml === "function" ? options.providersYaml(upstream.url) : options.providersYaml
  let gateway: TestGateway
  try {
    gateway = await startTestGateway({ ...options, providersYaml, upstreamUrl: upstream.url })
  } catch (error) {
    await upstream.close()
    throw error
  }
  return {
    upstream,
    gateway,
    client: makeClient(gateway),
    close: async () => {
      await gateway.close()
      await upstream.close()
    }
  }
}

/**
 * Creates an OpenAI client for the gateway. Retries are off, because a
 * retried request would take the next reply queued on the upstream.
 */
export const makeClient = (gateway: TestGateway): OpenAI =>
  new OpenAI({ baseURL: gateway.baseURL, apiKey: CLIENT_API_KEY, maxRetries: 0 })

/** Creates an Anthropic client for the gateway's `/v1/messages`, with retries off as in `makeClient`. */
export const makeAnthropicClient = (gateway: TestGateway): Anthropic =>
  new Anthropic({ baseURL: gateway.url, apiKey: CLIENT_API_KEY, maxRetries: 0 })

/** Reads a fixture file as UTF-8 text. */
export const fixtureText = (path: string): string => readFileSync(new URL(path, fixturesDir), "utf8")

/** Reads a fixture file as bytes. */
export const fixtureBytes = (path: string): Buffer => readFileSync(new URL(path, fixturesDir))

/** Reads a whole-JSON fixture. */
export const fixtureJson = <A = any>(path: string): A => JSON.parse(fixtureText(path)) as A

/**
 * Returns the JSON payloads of an SSE fixture in order, without `[DONE]`.
 * The OpenAI recordings frame every event as one `data:` line, so a line
 * scan is enough here and stays independent of the gateway's SSE parser.
 */
export const ssePayloads = (path: string): Array<any> =>
  fixtureText(path)
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data: ") && line !== "data: [DONE]")
    .map((line) => JSON.parse(line.slice("data: ".length)))

/** Returns the JSON payloads of a stream recording (`.sse` or `.chunks.txt`), in order. */
export const streamPayloads = (path: string): Array<any> => {
  const text = fixtureText(path)
  const lines = path.endsWith(".chunks.txt")
    ? text.split("\n").filter((line) => line !== "")
    : text
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice("data:".length).trim())
  return lines.map((line) => JSON.parse(line))
}

/**
 * Builds the `generateContent` response that carries the same parts as a
 * Gemini stream recording, with the finish reason and usage of its last event.
 */
export const geminiResponseFromStream = (path: string): Record<string, unknown> => {
  const payloads = streamPayloads(path)
  const last = payloads.at(-1)
  const parts = payloads.flatMap((payload) => payload.candidates[0].content.parts)
  return { ...last, candidates: [{ ...last.candidates[0], content: { role: "model", parts } }] }
}

/** Concatenates the `delta.content` of every chat chunk in a chat SSE fixture. */
export const chatFixtureText = (path: string): string =>
  ssePayloads(path)
    .flatMap((chunk) => chunk.choices ?? [])
    .map((choice: any) => choice.delta?.content ?? "")
    .join("")

/** Sends a JSON body with fetch, for checks on raw status, headers and bytes. */
export const postJson = (gateway: TestGateway, path: string, body: unknown): Promise<Response> =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_API_KEY}` },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

/** Returns the usage record of one request, polling until it is written or `timeoutMs` passes. */
export const waitForRecord = async (gateway: TestGateway, requestId: string, timeoutMs = 5000): Promise<UsageRecord> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const record = (await gateway.usageRecords()).find((candidate) => candidate.requestId === requestId)
    if (record !== undefined) return record
    if (performance.now() > deadline) {
      throw new Error(`No usage record with request id ${requestId} was written within ${timeoutMs} ms`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Returns the request ids of the usage records written so far. */
export const recordIds = async (gateway: TestGateway): Promise<ReadonlySet<string>> =>
  new Set((await gateway.usageRecords()).map((record) => record.requestId))

/**
 * Returns the one usage record whose request id is not in `earlier`, polling
 * until it is written. Fails when a second new record appears, because then
 * the record of interest is ambiguous.
 */
export const waitForNewRecord = async (
  gateway: TestGateway,
  earlier: ReadonlySet<string>,
  timeoutMs = 5000
): Promise<UsageRecord> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const added = (await gateway.usageRecords()).filter((record) => !earlier.has(record.requestId))
    if (added.length > 1) throw new Error(`Expected one new usage record, found ${added.length}`)
    if (added.length === 1) return added[0]!
    if (performance.now() > deadline) throw new Error(`No new usage record was written within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Reads the gateway's request id header, failing when it is absent. */
export const requestIdOf = (headers: Headers): string => {
  const id = headers.get("x-fluxen-request-id")
  if (id === null) throw new Error(`The response has no x-fluxen-request-id header. Its headers are ${JSON.stringify([...headers])}`)
  return id
}

/**
 * Sends a chat request for `gpt-4.1-nano` that the upstream rejects with a 400 (an unsupported
 * parameter), reads the response to its end and returns its request id.
 */
export const sendRejectedChat = async (harness: Harness, messages: ReadonlyArray<{ role: "user"; content: string }>): Promise<string> => {
  harness.upstream.enqueue({ fixture: "openai/chat-completions/error-400-unsupported-parameter.json" })
  const failed = await fetch(`${harness.gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1-nano", messages, max_tokens: 10 })
  })
  await failed.arrayBuffer()
  return requestIdOf(failed.headers)
}

/** The body of an error response in OpenAI's shape. */
export interface OpenAIErrorBody {
  readonly error: {
    readonly message: string
    readonly type: string
    readonly param: string | null
    readonly code: string | number | null
  }
}

/**
 * Reads an error response and checks that it is JSON with exactly OpenAI's
 * keys: `{"error": {"message", "type", "param", "code"}}`. Throws with the
 * raw text otherwise.
 */
export const readOpenAIError = async (response: Response): Promise<OpenAIErrorBody> => {
  const text = await response.text()
  const contentType = response.headers.get("content-type") ?? ""
  if (!contentType.startsWith("application/json")) {
    throw new Error(`Expected an application/json error body, got content-type ${JSON.stringify(contentType)}: ${text}`)
  }
  return parseOpenAIError(text)
}

/** Parses error JSON text and checks it has exactly OpenAI's error keys. */
export const parseOpenAIError = (text: string): OpenAIErrorBody => {
  const body = JSON.parse(text) as Record<string, unknown>
  const topKeys = Object.keys(body).sort().join(",")
  if (topKeys !== "error") throw new Error(`Expected only the key "error" at the top level, got ${topKeys}: ${text}`)
  const error = body.error as Record<string, unknown>
  const errorKeys = Object.keys(error).sort().join(",")
  if (errorKeys !== "code,message,param,type") {
    throw new Error(`Expected error keys code,message,param,type, got ${errorKeys}: ${text}`)
  }
  return body as unknown as OpenAIErrorBody
}

/** Awaits a call that must fail, and returns what it threw. */
export const failureOf = async (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => {
      throw new Error("Expected the call to fail, but it succeeded")
    },
    (error: unknown) => error
  )
