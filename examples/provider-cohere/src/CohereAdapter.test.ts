/**
 * How the adapter hands a call to the host's transport: the cancel notice
 * instead of the signal, and stream events in batches. A capturing
 * transport returns a recording in one piece, as one network read.
 */
import { attachCancelNotice, eventBatchesOf, type CancelNotice, type UpstreamRequest, type UpstreamResponse } from "@fluxen/sdk"
import { makeCallContext } from "@fluxen/sdk/testing"
import { Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { makeCohereAdapter } from "./CohereAdapter.js"

const recordingBytes = (name: string): Uint8Array => readFileSync(new URL(`../recordings/${name}`, import.meta.url))

const responseOf = (bytes: Uint8Array): UpstreamResponse => ({
  status: 200,
  headers: {},
  body: (async function* () {
    yield bytes
  })(),
  bytes: async () => bytes,
  discard: () => {}
})

const makeAdapter = (recording: string) => {
  const sent: Array<UpstreamRequest> = []
  const transport = {
    send: async (request: UpstreamRequest) => {
      sent.push(request)
      return responseOf(recordingBytes(recording))
    }
  }
  const adapter = makeCohereAdapter({ provider: "cohere", baseUrl: "http://127.0.0.1:9", apiKey: Redacted.make("co-test-key") }, transport)
  return { adapter, sent }
}

const request = { model: "command-a", messages: [{ role: "user" as const, content: "Say hello." }] }

const neverCancelled: CancelNotice = { cancelled: () => false, watch: () => () => {} }

describe("Cohere adapter and the host transport", () => {
  it("passes the cancel notice", async () => {
    const { adapter, sent } = makeAdapter("chat.json")
    const context = attachCancelNotice(makeCallContext({ upstreamModel: "command-a-03-2025" }), neverCancelled)

    await Effect.runPromise(adapter.chat(request, context))

    expect(sent[0]?.cancel).toBe(neverCancelled)
  })

  it("leaves the signal unread", async () => {
    const { adapter } = makeAdapter("chat.json")
    let signalReads = 0
    const base = makeCallContext({ upstreamModel: "command-a-03-2025" })
    const context = Object.defineProperty({ ...base }, "signal", {
      get: () => {
        signalReads++
        return base.signal
      }
    })

    await Effect.runPromise(adapter.chat(request, attachCancelNotice(context, neverCancelled)))

    expect(signalReads).toBe(0)
  })

  it("yields one read as one batch", async () => {
    const { adapter } = makeAdapter("chat-stream.sse")
    const result = await Effect.runPromise(adapter.chatStream({ ...request, stream: true }, makeCallContext({ upstreamModel: "command-a-03-2025" })))

    const batches = eventBatchesOf(result.events)
    const first = await batches?.next()

    expect(batches).toBeDefined()
    expect(first?.value?.at(-1)).toEqual({ data: "[DONE]", done: true })
  })
})
