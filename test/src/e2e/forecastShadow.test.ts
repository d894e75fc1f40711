/**
 * Shadow evaluation through a running gateway. A second, slow upstream
 * serves the candidate model, so the test can tell the client's response
 * from the shadow request's. The shadow request goes back through
 * the gateway via a forwarding server, because the gateway's port is only
 * known once it has started.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startReplayUpstream, type ReplayUpstream } from "../support/replayUpstream.js"
import { chatFixtureText, fixtureJson, requestIdOf, startHarness, waitForRecord, type Harness } from "./harness.js"

const ADMIN_KEY = "forecast-admin-key-0123456789"
const SHADOW_KEY = "sk-shadow-key"
const SHADOW_DELAY_MS = 1_500
const CHAT_PATH = "/v1/chat/completions"
const TEXT_FIXTURE = "openai/chat-completions/text.json"
const STREAM_FIXTURE = "openai/chat-completions/text-stream-usage.sse"
const question = [{ role: "user" as const, content: "Invent a holiday." }]

interface Forwarder {
  readonly url: string
  /** Headers of every forwarded request, in arrival order. */
  readonly headers: Array<IncomingHttpHeaders>
  target: string
  readonly close: () => Promise<void>
}

/** Starts a server on 127.0.0.1 that passes every request on to `target` and streams the response back. */
const startForwarder = async (): Promise<Forwarder> => {
  const headers: Array<IncomingHttpHeaders> = []
  const server = createServer((incoming, outgoing) => {
    headers.push(incoming.headers)
    const forwarded = httpRequest(new URL(incoming.url ?? "/", forwarder.target), { method: incoming.method, headers: incoming.headers }, (targetResponse) => {
      outgoing.writeHead(targetResponse.statusCode ?? 502, targetResponse.headers)
      targetResponse.pipe(outgoing)
    })
    forwarded.on("error", () => outgoing.destroy())
    incoming.pipe(forwarded)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const forwarder: Forwarder = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    headers,
    target: "http://127.0.0.1:1",
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
  }
  return forwarder
}

interface ShadowEvaluation {
  readonly model: string
  readonly candidate: string
  readonly samples: number
  readonly failed: number
  readonly exact_match: { readonly samples: number; readonly matches: number; readonly rate: number | null }
  readonly lexical_similarity: { readonly samples: number; readonly mean_jaccard: number | null }
}

let shadowUpstream: ReplayUpstream
let forwarder: Forwarder
let harness: Harness

const shadowEvaluations = async (): Promise<ReadonlyArray<ShadowEvaluation>> => {
  const response = await fetch(`${harness.gateway.url}/v1/fluxen/recommendations`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  const body = (await response.json()) as { shadow_evaluations: ReadonlyArray<ShadowEvaluation> }
  return body.shadow_evaluations
}

/** Polls until the shadow evaluations of gpt-4.1 count `samples`, and returns them. */
const waitForSamples = async (samples: number, timeoutMs = 5_000): Promise<ShadowEvaluation> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const evaluation = (await shadowEvaluations()).find((entry) => entry.model === "gpt-4.1")
    if (evaluation !== undefined && evaluation.samples >= samples) return evaluation
    if (performance.now() > deadline) throw new Error(`Fewer than ${samples} shadow samples were stored within ${timeoutMs} ms: ${JSON.stringify(evaluation)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

beforeAll(async () => {
  shadowUpstream = await startReplayUpstream()
  forwarder = await startForwarder()
  harness = await startHarness({
    providersYaml: `  slow:
    use: "@fluxen/provider-openai"
    config:
      baseUrl: ${shadowUpstream.url}/v1
      apiKey: sk-test-upstream-key
`,
    modelsYaml: `  shadow-nano:
    provider: slow
    model: gpt-4.1-nano
`,
    pluginsYaml: `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/forecaster"
    config:
      adminKey: "${ADMIN_KEY}"
      shadow:
        enabled: true
        sampleRate: 1
        maxConcurrent: 2
        baseUrl: ${forwarder.url}/v1
        apiKey: "${SHADOW_KEY}"
        candidates:
          gpt-4.1: shadow-nano
          shadow-nano: gpt-4.1
`
  })
  forwarder.target = harness.gateway.url
  harness.upstream.route(CHAT_PATH, { fixture: TEXT_FIXTURE })
})

afterAll(async () => {
  await harness?.close()
  await forwarder?.close()
  await shadowUpstream?.close()
})

describe("shadow evaluation", () => {
  it("responds before the shadow completes", async () => {
    shadowUpstream.route(CHAT_PATH, { fixture: TEXT_FIXTURE, delayBeforeHeadersMs: SHADOW_DELAY_MS })
    const started = performance.now()

    const { data: completion, response } = await harness.client.chat.completions
      .create({ model: "gpt-4.1", messages: question })
      .withResponse()
    const clientMs = performance.now() - started
    // The host sends a JSON response before its afterResponse hooks run, so the client's
    // response alone cannot show a hook that waits. The request ends, and its usage is recorded, only
    // after the hooks return.
    await waitForRecord(harness.gateway, requestIdOf(response.headers))
    const recordedMs = performance.now() - started
    const evaluationsAtRecord = await shadowEvaluations()
    const evaluation = await waitForSamples(1)
    const shadowMs = performance.now() - started

    expect(completion.choices[0]?.message.content).toBe(fixtureJson(TEXT_FIXTURE).choices[0].message.content)
    expect(clientMs).toBeLessThan(SHADOW_DELAY_MS)
    expect(recordedMs).toBeLessThan(SHADOW_DELAY_MS)
    expect(evaluationsAtRecord).toEqual([])
    expect(shadowMs).toBeGreaterThanOrEqual(SHADOW_DELAY_MS)
    // Both models returned the recorded output, which is long, so the word sets are identical.
    expect(evaluation).toEqual({
      model: "gpt-4.1",
      candidate: "shadow-nano",
      samples: 1,
      failed: 0,
      exact_match: { samples: 0, matches: 0, rate: null },
      lexical_similarity: { samples: 1, mean_jaccard: 1 }
    })
  })

  it("sends the shadow through the gateway", async () => {
    const shadowRequest = shadowUpstream.requests[0]!
    const body = shadowRequest.json as { model: string; stream?: boolean; messages: unknown }

    expect(shadowUpstream.requests).toHaveLength(1)
    expect(body.model).toBe("gpt-4.1-nano")
    expect(body.messages).toEqual(question)
    expect(forwarder.headers).toHaveLength(1)
    expect(forwarder.headers[0]!.authorization).toBe(`Bearer ${SHADOW_KEY}`)
    expect(forwarder.headers[0]!["x-fluxen-shadow"]).toBe("1")

    const records = await harness.gateway.usageRecords()
    expect(records.map((record) => record.requestedModel)).toEqual(["gpt-4.1", "shadow-nano"])
  })

  it("never samples a shadow request", async () => {
    // shadow-nano has gpt-4.1 as its own candidate and a permit is free, so only the marker
    // header keeps the shadow request from starting a shadow request of its own.
    await new Promise((resolve) => setTimeout(resolve, 300))

    expect(harness.upstream.requests).toHaveLength(1)
    expect(shadowUpstream.requests).toHaveLength(1)
  })

  it("skips samples while busy", async () => {
    const before = shadowUpstream.requests.length

    for (let index = 0; index < 3; index++) {
      await harness.client.chat.completions.create({ model: "gpt-4.1", messages: question })
    }
    await waitForSamples(3)
    await new Promise((resolve) => setTimeout(resolve, 200))

    // maxConcurrent is 2: both shadow requests were still waiting when the third sample was drawn.
    expect(harness.upstream.requests).toHaveLength(4)
    expect(shadowUpstream.requests.length - before).toBe(2)
  })

  it("compares short streamed output exactly", async () => {
    const streamedText = chatFixtureText(STREAM_FIXTURE)
    harness.upstream.enqueue({ fixture: STREAM_FIXTURE })
    harness.upstream.unroute(CHAT_PATH)
    shadowUpstream.route(CHAT_PATH, {
      body: JSON.stringify({
        id: "chatcmpl-shadow",
        object: "chat.completion",
        created: 0,
        model: "gpt-4.1-nano",
        choices: [{ index: 0, message: { role: "assistant", content: ` ${streamedText.toUpperCase()} ` }, finish_reason: "stop" }],
        usage: { prompt_tokens: 16, completion_tokens: 9, total_tokens: 25 }
      })
    })

    const stream = await harness.client.chat.completions.create({ model: "gpt-4.1", messages: question, stream: true })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    const evaluation = await waitForSamples(4)
    const shadowBody = shadowUpstream.requests.at(-1)!.json as Record<string, unknown>

    expect(text).toBe(streamedText)
    expect(streamedText.split(/\s+/).length).toBeLessThanOrEqual(10)
    expect(evaluation.exact_match).toEqual({ samples: 1, matches: 1, rate: 1 })
    expect(shadowBody.stream).not.toBe(true)
  })
})
