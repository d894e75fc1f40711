/** The notations of durations and sizes in the cache plugin's configuration. */
import { Duration, Option, ParseResult, Schema } from "effect"

// NOTE: these two unit schemas repeat the runtime's `DurationMillis` and
// `ByteSize` (runtime/src/config/Units.ts), which the SDK does not export, so
// a plugin cannot reuse them. They accept the same notation.

/** A duration written as milliseconds (`1500`) or as text (`"1 hour"`), decoded to milliseconds. */
export const DurationMillis = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(Duration.decodeUnknown(input), {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(ast, input, `Expected a duration such as 1500 (milliseconds) or "1 hour", got ${JSON.stringify(input)}`)
        ),
      onSome: (duration) => ParseResult.succeed(Duration.toMillis(duration))
    }),
  encode: (millis) => ParseResult.succeed(millis)
}).annotations({ identifier: "Duration", description: "milliseconds, or text such as \"1 hour\"" })

const byteUnits: Record<string, number> = { b: 1, kb: 1_000, kib: 1_024, mb: 1_000_000, mib: 1_048_576, gb: 1_000_000_000, gib: 1_073_741_824 }

/** A size written as bytes (`65536`) or as text (`"64 MiB"`), decoded to bytes. */
export const ByteSize = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    if (typeof input === "number" && Number.isInteger(input) && input >= 0) return ParseResult.succeed(input)
    const match = typeof input === "string" ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input) : null
    const factor = match ? byteUnits[(match[2] || "b").toLowerCase()] : undefined
    if (!match || factor === undefined) {
      return ParseResult.fail(
        new ParseResult.Type(ast, input, `Expected a size such as 1048576 (bytes) or "64 MiB", got ${JSON.stringify(input)}`)
      )
    }
    return ParseResult.succeed(Math.floor(Number(match[1]) * factor))
  },
  encode: (bytes) => ParseResult.succeed(bytes)
}).annotations({ identifier: "ByteSize", description: "bytes, or text such as \"64 MiB\"" })
