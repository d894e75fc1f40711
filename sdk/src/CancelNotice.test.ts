import { describe, expect, it } from "vitest"
import { attachCancelNotice, cancelNoticeOf, cancelNoticeOfCall, type CancelNotice } from "./CancelNotice.js"

const notice: CancelNotice = { cancelled: () => false, watch: () => () => {} }

describe("attachCancelNotice", () => {
  it("same object only", () => {
    const context = attachCancelNotice({ requestId: "req-1" }, notice)

    expect(cancelNoticeOfCall(context)).toBe(notice)
    expect(cancelNoticeOfCall({ ...context })).toBeUndefined()
    expect(cancelNoticeOfCall({ requestId: "req-1" })).toBeUndefined()
  })

  it("adds no enumerable property", () => {
    const context = attachCancelNotice({ requestId: "req-1" }, notice)

    expect(Object.keys(context)).toEqual(["requestId"])
    expect(JSON.stringify(context)).toBe('{"requestId":"req-1"}')
  })

  it("frozen context", () => {
    const frozen = Object.freeze({ requestId: "req-1" })

    expect(cancelNoticeOfCall(attachCancelNotice(frozen, notice))).toBe(notice)
  })

  it("derived object: no notice", () => {
    const context = attachCancelNotice({ requestId: "req-1" }, notice)

    expect(cancelNoticeOfCall(Object.create(context) as object)).toBeUndefined()
  })

  it("replaces an earlier notice", () => {
    const other: CancelNotice = { cancelled: () => true, watch: () => () => {} }
    const context = attachCancelNotice(attachCancelNotice({}, notice), other)

    expect(cancelNoticeOfCall(context)).toBe(other)
  })
})

describe("cancelNoticeOf", () => {
  it("follows the signal", () => {
    const controller = new AbortController()
    const fromSignal = cancelNoticeOf(controller.signal)
    let calls = 0
    const stop = fromSignal.watch(() => calls++)
    const stopped = fromSignal.watch(() => calls++)
    stopped()

    controller.abort()

    expect(fromSignal.cancelled()).toBe(true)
    expect(calls).toBe(1)
    stop()
  })
})
