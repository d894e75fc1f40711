import { describe, expect, it } from "@effect/vitest"
import { streamEventList, type CallContext, type MessagesRequest, type ProviderAdapter, type StreamEvent, type StreamResult } from "@fluxen/sdk"
import { Effect } from "effect"
import { invokeMessages } from "./anthropicMessages.js"

const request = { model: "claude", max_tokens: 100, messages: [{ role: "user", content: "hi" }], stream: true } as unknown as MessagesRequest

const context: CallContext = {
  requestId: "req-messages",
  upstreamModel: "plugin-model",
  signal: new AbortController().signal,
  idleTimeoutMs: 5_000,
  clientHeaders: { get: () => undefined }
}

const event = (payload: unknown): StreamEvent => ({ data: JSON.stringify(payload), json: payload })

const textChunk = event({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }] })

// A plugin's adapter that yields the upstream's events as they are, error events included.
const adapterYielding = (events: ReadonlyArray<StreamEvent>): ProviderAdapter => {
  const unused = () => Effect.die(new Error("The messages route called a method other than chatStream."))
  return {
    chat: unused,
    embeddings: unused,
    chatStream: () => Effect.succeed({ _tag: "Stream", status: 200, headers: {}, events: streamEventList(events) } satisfies StreamResult)
  }
}

/** Runs a streamed Messages request against `events` and returns the error that ended the stream. */
const streamFailure = (events: ReadonlyArray<StreamEvent>) =>
  Effect.gen(function* () {
    const result = yield* invokeMessages(adapterYielding(events), "plugin", request, context, true)
    if (result._tag !== "Stream") throw new Error("Expected a stream result")
    return yield* Effect.promise(async () => {
      try {
        for await (const _ of result.events) continue
        return undefined
      } catch (error) {
        return error
      }
    })
  })

describe("invokeMessages error events", () => {
  it.effect("numeric code: its status", () =>
    Effect.gen(function* () {
      const error = yield* streamFailure([textChunk, event({ error: { code: 429, message: "Rate limited upstream" } })])

      expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 429, streamEvent: true })
    })
  )

  it.effect("overloaded type: status 529", () =>
    Effect.gen(function* () {
      const error = yield* streamFailure([textChunk, event({ error: { type: "overloaded_error", message: "Overloaded" } })])

      expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 529 })
      expect(error).toMatchObject({ error: { type: "overloaded_error", message: "Overloaded" } })
    })
  )

  it.effect("untyped error: status 500", () =>
    Effect.gen(function* () {
      const error = yield* streamFailure([textChunk, event({ error: { message: "Something failed" } })])

      expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 500 })
    })
  )

  it.effect("error chunk with choices: fails", () =>
    Effect.gen(function* () {
      const failed = event({ error: { code: 502, message: "lost" }, choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }] })

      const error = yield* streamFailure([textChunk, failed])

      expect(error).toMatchObject({ _tag: "UpstreamHttpError", status: 502, streamEvent: true })
    })
  )

  it.effect("complete stream: no error", () =>
    Effect.gen(function* () {
      const stop = event({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })

      const error = yield* streamFailure([textChunk, stop, { data: "[DONE]", done: true }])

      expect(error).toBeUndefined()
    })
  )
})
