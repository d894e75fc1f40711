/** Schemas for the unit-bearing values of `fluxen.yaml` and of plugin sections: durations and byte sizes. */
import { Duration, Option, ParseResult, Schema } from "effect"

/**
 * A duration written as milliseconds (`1500`) or as text with a unit
 * (`"30 seconds"`, `"500 millis"`, `"2 minutes"`), decoded to milliseconds.
 * It rejects a negative duration and NaN, which Effect's `Duration` would
 * read as 0, and accepts an infinite one (`.inf` in YAML). A setting that
 * a timer waits for uses {@link TimerMillis} instead.
 */
export const DurationMillis = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    if (typeof input === "number" ? !(input >= 0) : /^\s*-/.test(input)) {
      const inputText = typeof input === "number" ? String(input) : JSON.stringify(input)
      return ParseResult.fail(new ParseResult.Type(ast, input, `Expected a duration of 0 or more, such as 1500 (milliseconds) or "30 seconds", got ${inputText}`))
    }
    const duration = Duration.decodeUnknown(input)
    return Option.match(duration, {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(ast, input, `Expected a duration such as 1500 (milliseconds) or "30 seconds", got ${JSON.stringify(input)}`)
        ),
      onSome: (value) => ParseResult.succeed(Duration.toMillis(value))
    })
  },
  encode: (millis) => ParseResult.succeed(millis)
}).annotations({ identifier: "Duration", description: "milliseconds, or text such as \"30 seconds\"" })

const byteUnits: Record<string, number> = { b: 1, kb: 1_000, kib: 1_024, mb: 1_000_000, mib: 1_048_576, gb: 1_000_000_000, gib: 1_073_741_824 }

/** A size written as bytes (`65536`) or as text with a unit (`"4 MiB"`, `"512kb"`), decoded to bytes. */
export const ByteSize = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    if (typeof input === "number" && Number.isInteger(input) && input >= 0) return ParseResult.succeed(input)
    const match = typeof input === "string" ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input) : null
    const factor = match ? byteUnits[(match[2] || "b").toLowerCase()] : undefined
    if (!match || factor === undefined) {
      return ParseResult.fail(
        new ParseResult.Type(ast, input, `Expected a size such as 1048576 (bytes) or "4 MiB", got ${JSON.stringify(input)}`)
      )
    }
    return ParseResult.succeed(Math.floor(Number(match[1]) * factor))
  },
  encode: (bytes) => ParseResult.succeed(bytes)
}).annotations({ identifier: "ByteSize", description: "bytes, or text such as \"4 MiB\"" })

/**
 * The maximum wait of a timer in milliseconds, 2^31 - 1 (about 24.8 days). Node's `setTimeout` runs a
 * longer timer after 1 ms, with a `TimeoutOverflowWarning`, and Effect's clock treats a longer duration
 * as no limit (`MAX_TIMER_MILLIS` in effect 3.22's internal clock), so such a timeout never fires.
 */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

const inMilliseconds = (millis: number) => (millis === 1 ? "1 millisecond" : `${millis} milliseconds`)

/**
 * Builds a duration schema like {@link DurationMillis} that accepts `minimum` to `maximum` milliseconds.
 * A negative number, negative text such as "-1 second" and NaN fail with the message for a duration
 * below `minimum`. `maximumInWords` explains the upper bound in the message and in the JSON Schema, such
 * as "about 24.8 days, the longest a timer can wait".
 *
 * NOTE: JSON Schema cannot bound a duration written with a unit, so an editor accepts "30 days" where
 * the decoder rejects it.
 */
export const DurationMillisBetween = (minimum: number, maximum: number, maximumInWords: string) => {
  const tooShort = `Expected a duration of at least ${inMilliseconds(minimum)}`
  const input = Schema.Union(Schema.Number, Schema.String).pipe(
    Schema.filter((value) => (typeof value === "number" ? value >= 0 : !/^\s*-/.test(value)) || tooShort)
  )
  return Schema.compose(input, DurationMillis).pipe(
    Schema.filter((millis) => {
      if (millis < minimum) return tooShort
      if (millis > maximum) return `Expected a duration of at most ${inMilliseconds(maximum)} (${maximumInWords})`
      return true
    })
  ).annotations({
    jsonSchema: {
      anyOf: [{ type: "number", minimum, maximum }, { type: "string" }],
      description: `milliseconds from ${minimum} to ${maximum} (${maximumInWords}), or text such as "30 seconds"`
    }
  })
}

const timerLimitInWords = "about 24.8 days, the longest a timer can wait"

/** A timeout or an interval: a duration from 1 millisecond to {@link MAX_TIMER_MILLIS}. */
export const TimerMillis = DurationMillisBetween(1, MAX_TIMER_MILLIS, timerLimitInWords).annotations({ identifier: "TimerDuration" })

/** A wait that may be skipped, such as a delay or a grace period: a duration from 0 to {@link MAX_TIMER_MILLIS} milliseconds. */
export const TimerMillisOrZero = DurationMillisBetween(0, MAX_TIMER_MILLIS, timerLimitInWords).annotations({
  identifier: "TimerDurationOrZero"
})
