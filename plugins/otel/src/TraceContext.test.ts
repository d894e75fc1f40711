import { describe, expect, it } from "vitest"
import { parseTraceParent, parseTraceState } from "./TraceContext.js"

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const SPAN_ID = "00f067aa0ba902b7"
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`

describe("parseTraceParent", () => {
  it("reads a sampled traceparent", () => {
    const parent = parseTraceParent(VALID, undefined)

    expect(parent?.traceId).toBe(TRACE_ID)
    expect(parent?.spanId).toBe(SPAN_ID)
    expect(parent?.sampled).toBe(true)
    expect(parent?.traceState).toBeUndefined()
  })

  it("reads an unsampled traceparent", () => {
    expect(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-00`, undefined)?.sampled).toBe(false)
  })

  it("reads sampled bit among flags", () => {
    expect(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-03`, undefined)?.sampled).toBe(true)
    expect(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-02`, undefined)?.sampled).toBe(false)
  })

  it("accepts fields of a later version", () => {
    const parent = parseTraceParent(`01-${TRACE_ID}-${SPAN_ID}-01-future`, undefined)

    expect(parent?.traceId).toBe(TRACE_ID)
    expect(parent?.sampled).toBe(true)
  })

  it("keeps a valid tracestate", () => {
    expect(parseTraceParent(VALID, "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")?.traceState).toBe("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
  })

  it("drops only an invalid tracestate", () => {
    const parent = parseTraceParent(VALID, "not a list member")

    expect(parent?.traceId).toBe(TRACE_ID)
    expect(parent?.traceState).toBeUndefined()
  })

  const invalid: ReadonlyArray<{ readonly name: string; readonly value: string | undefined }> = [
    { name: "a missing header", value: undefined },
    { name: "an empty value", value: "" },
    { name: "version ff", value: `ff-${TRACE_ID}-${SPAN_ID}-01` },
    { name: "an all-zero trace id", value: `00-${"0".repeat(32)}-${SPAN_ID}-01` },
    { name: "an all-zero span id", value: `00-${TRACE_ID}-${"0".repeat(16)}-01` },
    { name: "uppercase hex", value: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` },
    { name: "a short trace id", value: `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01` },
    { name: "a long span id", value: `00-${TRACE_ID}-${SPAN_ID}0-01` },
    { name: "version 00 with extra fields", value: `${VALID}-extra` },
    { name: "a later version without a dash after the flags", value: `01-${TRACE_ID}-${SPAN_ID}-01x` },
    { name: "non-hex flags", value: `00-${TRACE_ID}-${SPAN_ID}-zz` },
    { name: "two joined headers", value: `${VALID}, ${VALID}` },
    { name: "surrounding spaces", value: ` ${VALID}` }
  ]

  it.each(invalid)("ignores $name", ({ value }) => {
    expect(parseTraceParent(value, "congo=t61rcWkgMzE")).toBeUndefined()
  })
})

describe("parseTraceState", () => {
  it("drops empty list members", () => {
    expect(parseTraceState("a=1,, b=2 ,")).toBe("a=1,b=2")
  })

  it("accepts a multi-tenant key", () => {
    expect(parseTraceState("tenant@vendor=value")).toBe("tenant@vendor=value")
  })

  it("rejects a key with uppercase letters", () => {
    expect(parseTraceState("Congo=1")).toBeUndefined()
  })

  it("rejects a value with an equals sign", () => {
    expect(parseTraceState("congo=a=b")).toBeUndefined()
  })

  it("rejects more than 32 members", () => {
    const members = Array.from({ length: 33 }, (_, index) => `k${index}=v`).join(",")

    expect(parseTraceState(members)).toBeUndefined()
  })

  it("rejects a value over 512 characters", () => {
    expect(parseTraceState(`a=${"x".repeat(250)},b=${"y".repeat(250)},c=${"z".repeat(10)}`)).toBeUndefined()
  })

  it("returns nothing for an empty list", () => {
    expect(parseTraceState(" , ")).toBeUndefined()
  })
})
