import { describe, expect, it } from "vitest"
import { readStreamStart } from "./StreamStart.js"

/** Creates an event source that records how many events were read and whether it was closed. */
const makeSource = (values: ReadonlyArray<string>, failure?: Error) => {
  const state = { pulled: 0, closed: false }
  async function* events(): AsyncGenerator<string> {
    try {
      for (const value of values) {
        state.pulled++
        yield value
      }
      if (failure !== undefined) throw failure
    } finally {
      state.closed = true
    }
  }
  return { events: events(), state }
}

const collect = async (events: AsyncIterable<string>): Promise<Array<string>> => {
  const collected: Array<string> = []
  for await (const event of events) collected.push(event)
  return collected
}

describe("readStreamStart", () => {
  it("reads only the first event by default", async () => {
    const source = makeSource(["a", "b", "c"])
    const events = await readStreamStart(source.events)
    expect(source.state.pulled).toBe(1)
    expect(await collect(events)).toEqual(["a", "b", "c"])
  })

  it("reads up to the decisive event", async () => {
    const source = makeSource(["ping", "ping", "start", "text"])
    const events = await readStreamStart(source.events, (event) => event !== "ping")
    expect(source.state.pulled).toBe(3)
    expect(await collect(events)).toEqual(["ping", "ping", "start", "text"])
  })

  it("rejects with an early failure", async () => {
    const failure = new Error("overloaded")
    const source = makeSource(["ping"], failure)
    await expect(readStreamStart(source.events, (event) => event !== "ping")).rejects.toBe(failure)
    expect(source.state.closed).toBe(true)
  })

  it("return before reading closes source", async () => {
    const source = makeSource(["a", "b"])
    const events = await readStreamStart(source.events)
    await events.return?.()
    expect(source.state.closed).toBe(true)
  })

  it("breaking a loop closes source", async () => {
    const source = makeSource(["a", "b", "c"])
    const events = await readStreamStart(source.events)
    for await (const event of events) if (event === "b") break
    expect(source.state.closed).toBe(true)
    expect(source.state.pulled).toBe(2)
  })

  it("empty stream yields nothing", async () => {
    const source = makeSource([])
    expect(await collect(await readStreamStart(source.events))).toEqual([])
  })
})
