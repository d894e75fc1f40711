/**
 * Checks that the provider conformance suite fails plugins that break the
 * contract: one that leaks the API key into an error, one that ignores
 * cancellation, and one that reports no streamed usage.
 */
import openai from "@fluxen/provider-openai"
import { definePlugin, Plugin, UpstreamHttpError, type ProviderAdapter, type StreamEvent } from "@fluxen/sdk"
import { readRecording, runProviderConformance, type ConformanceTestApi, type ProviderConformanceOptions } from "@fluxen/sdk/testing"
import { Context, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { fixturesDir } from "../support/fixtures.js"

const recording = (path: string) => readRecording(new URL(`openai/chat-completions/${path}`, fixturesDir))

const API_KEY = "sk-conformance-leak-7d2e"

interface RegisteredTest {
  readonly name: string
  readonly body: () => Promise<void>
}

/** Registers the suite into a list instead of the test runner, so a test can run it and read the outcome. */
const registerInto = (options: ProviderConformanceOptions<any>): Array<RegisteredTest> => {
  const tests: Array<RegisteredTest> = []
  const path: Array<string> = []
  const api: ConformanceTestApi = {
    describe: (name, body) => {
      path.push(name)
      body()
      path.pop()
    },
    it: (name, body) => {
      tests.push({ name: [...path.slice(1), name].join(" > "), body })
    },
    expect
  }
  runProviderConformance(api, options)
  return tests
}

/** Runs every registered test and returns the names of those that failed. */
const failingTests = async (tests: ReadonlyArray<RegisteredTest>): Promise<Array<string>> => {
  const failed: Array<string> = []
  for (const test of tests) {
    try {
      await test.body()
    } catch {
      failed.push(test.name)
    }
  }
  return failed
}

const baseOptions = (plugin: ProviderConformanceOptions<any>["plugin"]): ProviderConformanceOptions<any> => ({
  plugin,
  config: (baseUrl: string) => ({ baseUrl: `${baseUrl}/v1`, apiKey: API_KEY }),
  upstreamModel: "gpt-4o-mini-2024-07-18",
  secrets: [API_KEY],
  recordings: {
    chat: recording("text.json"),
    stream: recording("text-stream-usage.sse"),
    toolCall: recording("tool-call.json"),
    errors: [{ name: "an invalid API key", recording: recording("error-401-invalid-api-key.json"), status: 401 }]
  }
})

/** Wraps the OpenAI plugin, replacing its adapter with `change(adapter)`. */
const wrapOpenAI = (name: string, change: (adapter: ProviderAdapter) => ProviderAdapter) =>
  definePlugin({
    ...openai,
    name,
    layer: (config) =>
      Layer.map(openai.layer(config), (context) => Context.make(Plugin, { provider: change(Context.get(context, Plugin).provider!) }))
  })

// Hides `return()`, so stopping early never reaches the adapter.
const withoutReturn = (events: AsyncIterable<StreamEvent>): AsyncIterable<StreamEvent> => ({
  [Symbol.asyncIterator]: () => {
    const inner = events[Symbol.asyncIterator]()
    return { next: () => inner.next(), return: async () => ({ done: true as const, value: undefined }) }
  }
})

const withoutUsage = async function* (events: AsyncIterable<StreamEvent>): AsyncGenerator<StreamEvent> {
  for await (const event of events) if (event.usage === undefined) yield event
}

describe("provider conformance suite", () => {
  it("passes the unchanged OpenAI provider", async () => {
    expect(await failingTests(registerInto(baseOptions(openai)))).toEqual([])
  })

  it("fails an adapter that leaks the API key", async () => {
    const leakingError = {
      name: "an error that quotes the key",
      status: 401,
      recording: {
        status: 401,
        body: JSON.stringify({ error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } })
      }
    }
    // Puts the key back into every error message, as an adapter that echoed its request would.
    const leaky = wrapOpenAI("leaky", (adapter) => ({
      ...adapter,
      chat: (request, context) =>
        adapter.chat(request, context).pipe(
          Effect.mapError((error) =>
            error._tag === "UpstreamHttpError"
              ? new UpstreamHttpError({ ...error, error: { ...error.error, message: `${error.error.message} (${API_KEY})` } })
              : error
          )
        )
    }))
    const options = baseOptions(leaky)
    const tests = registerInto({ ...options, recordings: { ...options.recordings, errors: [leakingError] } })

    expect(await failingTests(tests)).toEqual(["errors > maps an error that quotes the key to UpstreamHttpError 401"])
  })

  it("redacts a key the upstream quotes back in the OpenAI provider", async () => {
    const quotingError = {
      name: "an error that quotes the key",
      status: 401,
      recording: {
        status: 401,
        body: JSON.stringify({ error: { message: `Incorrect API key provided: ${API_KEY}.`, type: "invalid_request_error", code: "invalid_api_key" } })
      }
    }
    const options = baseOptions(openai)
    expect(await failingTests(registerInto({ ...options, recordings: { ...options.recordings, errors: [quotingError] } }))).toEqual([])
  })

  it("fails an adapter that ignores cancellation", async () => {
    const deaf = wrapOpenAI("deaf-to-cancellation", (adapter) => ({
      ...adapter,
      chatStream: (request, context) =>
        adapter
          .chatStream(request, { ...context, signal: new AbortController().signal })
          .pipe(Effect.map((result) => ({ ...result, events: withoutReturn(result.events) })))
    }))

    expect(await failingTests(registerInto(baseOptions(deaf)))).toEqual([
      "streamed chat > closes the upstream connection when the signal aborts mid-stream",
      "streamed chat > closes the upstream connection when iteration stops early"
    ])
  })

  it("fails an adapter without streamed usage", async () => {
    const silent = wrapOpenAI("no-stream-usage", (adapter) => ({
      ...adapter,
      chatStream: (request, context) =>
        adapter.chatStream(request, context).pipe(Effect.map((result) => ({ ...result, events: withoutUsage(result.events) })))
    }))

    expect(await failingTests(registerInto(baseOptions(silent)))).toEqual(["streamed chat > reports usage on the final events"])
  })
})
