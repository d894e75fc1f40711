import { LazyJsonResult, LazyStreamEvent, type StreamEvent } from "@fluxen/sdk"
import { describe, expect, it } from "vitest"
import { RequestState } from "./RequestState.js"

const chunk = (content: string, finishReason: string | null = null): StreamEvent =>
  new LazyStreamEvent(
    { data: JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: finishReason }] }) },
    () => new Error("invalid")
  )

const storedCompletion = {
  id: "c1",
  object: "chat.completion",
  created: 1,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "stored" }, finish_reason: "stop" }]
}

const newState = () => new RequestState("req-1", "chat", Date.now(), performance.now())

describe("RequestState stream response", () => {
  it("no completion: events assembled", () => {
    const state = newState()
    const progress = state.startStream(true)
    progress.assembler!.add(chunk("Hi").json as never)
    progress.assembler!.add(chunk("!", "stop").json as never)
    progress.completed = true

    const response = state.outcome("ok").response as typeof storedCompletion
    expect(response.choices[0]!.message.content).toBe("Hi!")
  })

  it("own completion: not assembled", () => {
    const state = newState()
    const progress = state.startStream(true, storedCompletion)
    progress.completed = true

    expect(progress.assembler).toBeUndefined()
    expect(state.outcome("ok").response).toBe(storedCompletion)
  })

  it("incomplete stream: no response", () => {
    const state = newState()
    state.startStream(true, storedCompletion)

    expect(state.outcome("cancelled").response).toBeUndefined()
  })
})

describe("RequestState outcome", () => {
  const jsonState = (parses: { count: number }) => {
    const state = newState()
    state.jsonResult = new LazyJsonResult(200, {}, new TextEncoder().encode('{"id":"c1"}'), undefined, (bytes) => {
      parses.count++
      return JSON.parse(new TextDecoder().decode(bytes))
    })
    return state
  }

  it("JSON: body parsed on read", () => {
    const parses = { count: 0 }
    const outcome = jsonState(parses).outcome("ok")

    expect(parses.count).toBe(0)
    expect(outcome.response).toEqual({ id: "c1" })
    expect(outcome.streamedText).toBe("")
  })

  it("stream: text joined once", () => {
    const state = newState()
    const progress = state.startStream(false)
    progress.unread.push(chunk("Hel"), chunk("lo"))
    const outcome = state.outcome("cancelled")

    expect(outcome.streamedText).toBe("Hello")
    expect(outcome.streamedText).toBe(outcome.streamedText)
    expect(outcome.response).toBeUndefined()
  })

  it("spread copy keeps lazy fields", () => {
    const parses = { count: 0 }
    const copy = { ...jsonState(parses).outcome("ok"), status: "error" as const }

    expect(copy.response).toEqual({ id: "c1" })
    expect(Object.keys(copy).sort()).toEqual([
      "answeredByHook",
      "error",
      "httpStatus",
      "response",
      "responseModel",
      "status",
      "streamedText",
      "upstreamResponded",
      "usage"
    ])
  })

  it("derived, proxied and frozen outcomes", () => {
    const json = jsonState({ count: 0 }).outcome("ok")
    const state = newState()
    state.startStream(false).unread.push(chunk("Hi"))
    const stream = state.outcome("ok")

    expect((Object.create(json) as typeof json).response).toEqual({ id: "c1" })
    expect(new Proxy(stream, {}).streamedText).toBe("Hi")
    expect(Object.freeze(stream).streamedText).toBe("Hi")
    expect(Object.freeze(jsonState({ count: 0 }).outcome("ok")).response).toEqual({ id: "c1" })
  })

  // Getters made per request would keep the request's objects alive until a full collection.
  it("outcomes share their getters", () => {
    const getterOf = (outcome: object, name: string) => Object.getOwnPropertyDescriptor(outcome, name)?.get
    const streamOutcome = () => {
      const state = newState()
      state.startStream(false)
      return state.outcome("ok")
    }

    expect(getterOf(jsonState({ count: 0 }).outcome("ok"), "response")).toBeTypeOf("function")
    expect(getterOf(jsonState({ count: 0 }).outcome("ok"), "response")).toBe(getterOf(jsonState({ count: 0 }).outcome("error"), "response"))
    expect(getterOf(streamOutcome(), "streamedText")).toBeTypeOf("function")
    expect(getterOf(streamOutcome(), "streamedText")).toBe(getterOf(streamOutcome(), "streamedText"))
  })
})

describe("RequestState response model", () => {
  it("JSON: only once body parsed", () => {
    const parses = { count: 0 }
    const state = newState()
    state.jsonResult = new LazyJsonResult(200, {}, new TextEncoder().encode('{"model":"gpt-4o-mini-2024-07-18"}'), undefined, (bytes) => {
      parses.count++
      return JSON.parse(new TextDecoder().decode(bytes))
    })
    const outcome = state.outcome("ok")

    expect(outcome.responseModel).toBeUndefined()
    expect(parses.count).toBe(0)
    expect(outcome.response).toEqual({ model: "gpt-4o-mini-2024-07-18" })
    expect(outcome.responseModel).toBe("gpt-4o-mini-2024-07-18")
  })

  it("JSON: plain body read", () => {
    const state = newState()
    state.jsonResult = { _tag: "Json", status: 200, headers: {}, body: storedCompletion }

    expect(state.outcome("ok").responseModel).toBe("m")
  })

  it("JSON: none without a result", () => {
    expect(newState().outcome("error").responseModel).toBeUndefined()
  })

  it("stream: model noted by the relay", () => {
    const state = newState()
    state.startStream(false).responseModel = "gpt-4o-mini-2024-07-18"

    expect(state.outcome("ok").responseModel).toBe("gpt-4o-mini-2024-07-18")
  })

  it("stream: model of the completion", () => {
    const state = newState()
    const progress = state.startStream(true)
    progress.assembler!.add(chunk("Hi", "stop").json as never)
    progress.completed = true

    expect(state.outcome("ok").responseModel).toBe("m")
  })
})

describe("RequestState record cost", () => {
  const recordedCost = (upstreamResponded: boolean) => {
    const state = newState()
    state.lastAttempt = { provider: "openai", upstreamModel: "gpt-4o-mini" }
    state.upstreamAttempts = 1
    state.upstreamResponded = upstreamResponded
    return state.toRecord(state.outcome("cancelled"), performance.now()).costUsd
  }

  it("unanswered upstream call costs zero", () => {
    expect(recordedCost(false)).toBe(0)
  })

  it("answered call without price: null", () => {
    expect(recordedCost(true)).toBeNull()
  })

  it("outcome reports upstream response", () => {
    const state = newState()
    state.upstreamResponded = true

    expect(state.outcome("ok").upstreamResponded).toBe(true)
  })
})
