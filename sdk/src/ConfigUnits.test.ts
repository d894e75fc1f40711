import { describe, expect, it } from "@effect/vitest"
import { Either, JSONSchema, ParseResult, Schema } from "effect"
import { DurationMillis, DurationMillisBetween, MAX_TIMER_MILLIS, TimerMillis, TimerMillisOrZero } from "./ConfigUnits.js"

/** Returns the decoded milliseconds, or the messages of the failure. */
const decode = (schema: Schema.Schema<number, number | string>, input: unknown): number | ReadonlyArray<string> =>
  Either.match(Schema.decodeUnknownEither(schema)(input, { errors: "all" }), {
    onLeft: (error) => ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.message),
    onRight: (millis) => millis
  })

const tooLong = "Expected a duration of at most 2147483647 milliseconds (about 24.8 days, the longest a timer can wait)"

describe("DurationMillis", () => {
  it("reads numbers and text with units", () => {
    expect(decode(DurationMillis, 0)).toBe(0)
    expect(decode(DurationMillis, 1500)).toBe(1_500)
    expect(decode(DurationMillis, "2 minutes")).toBe(120_000)
    expect(decode(DurationMillis, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY)
  })

  it.each([
    [-5, "-5"],
    [Number.NaN, "NaN"],
    [Number.NEGATIVE_INFINITY, "-Infinity"],
    ["-1 second", '"-1 second"'],
    [" -0 seconds", '" -0 seconds"']
  ])("rejects %s instead of zero", (input, shown) => {
    expect(decode(DurationMillis, input)).toEqual([`Expected a duration of 0 or more, such as 1500 (milliseconds) or "30 seconds", got ${shown}`])
  })
})

describe("TimerMillis", () => {
  it("accepts 1 ms to 2^31 - 1 ms", () => {
    expect(decode(TimerMillis, 1)).toBe(1)
    expect(decode(TimerMillis, "2 seconds")).toBe(2_000)
    expect(decode(TimerMillis, MAX_TIMER_MILLIS)).toBe(2_147_483_647)
  })

  it.each([0, 0.5, "0 seconds", -5, "-5 seconds", Number.NaN, Number.NEGATIVE_INFINITY])("rejects %s as too short", (input) => {
    expect(decode(TimerMillis, input)).toEqual(["Expected a duration of at least 1 millisecond"])
  })

  it.each([2_147_483_648, "25 days", Number.POSITIVE_INFINITY])("rejects %s as too long", (input) => {
    expect(decode(TimerMillis, input)).toEqual([tooLong])
  })

  it("keeps the message for unknown text", () => {
    expect(decode(TimerMillis, "soon")).toEqual(['Expected a duration such as 1500 (milliseconds) or "30 seconds", got "soon"'])
  })
})

describe("TimerMillisOrZero", () => {
  it("accepts zero", () => {
    expect(decode(TimerMillisOrZero, 0)).toBe(0)
    expect(decode(TimerMillisOrZero, "0 seconds")).toBe(0)
  })

  it.each([-1, "-1 second", Number.NaN])("rejects %s instead of zero", (input) => {
    expect(decode(TimerMillisOrZero, input)).toEqual(["Expected a duration of at least 0 milliseconds"])
  })

  it("rejects an endless wait", () => {
    expect(decode(TimerMillisOrZero, Number.POSITIVE_INFINITY)).toEqual([tooLong])
  })
})

describe("DurationMillisBetween", () => {
  const Lifetime = DurationMillisBetween(1, 315_360_000_000, "10 years")

  it("bounds by the given range", () => {
    expect(decode(Lifetime, "30 days")).toBe(2_592_000_000)
    expect(decode(Lifetime, "3651 days")).toEqual(["Expected a duration of at most 315360000000 milliseconds (10 years)"])
  })

  it("states the range in JSON Schema", () => {
    expect(JSONSchema.make(Lifetime)).toMatchObject({
      anyOf: [{ type: "number", minimum: 1, maximum: 315_360_000_000 }, { type: "string" }],
      description: 'milliseconds from 1 to 315360000000 (10 years), or text such as "30 seconds"'
    })
  })
})
