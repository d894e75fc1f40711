/** Schemas for the unit-bearing values of `fluxen.yaml` and of plugin sections: durations and byte sizes. */
import { Duration, Option, ParseResult, Schema } from "effect"

/**
 * A duration written as milliseconds (`1500`) or as text with a unit
 * (`"30 seconds"`, `"500 millis"`, `"2 minutes"`), decoded to milliseconds.
 */
export const DurationMillis = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
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
