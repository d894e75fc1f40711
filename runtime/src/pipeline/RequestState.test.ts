import { LazyStreamEvent, type StreamEvent } from "@fluxen/sdk"
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
