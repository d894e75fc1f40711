/**
 * The query string of `GET /v1/fluxen/usage`. Dates are parsed here rather than by `Date`,
 * because `new Date` reads `1` as 2001-01-01 and rolls `2026-02-30` over to March 2.
 */
import { Either, Schema } from "effect"
import type { UsageFilterBy, UsageGroupBy, UsageTotalsFilters } from "../usage/usageTotals.js"

// A date, optionally with a time, fractional seconds and an offset. A query string decodes an
// unescaped `+` as a space, so a space takes the place of the `+` of an offset.
const isoTimestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+ -]\d{2}:\d{2})?)?$/

/** Returns the minutes east of UTC of a `Z` or `±hh:mm` offset (a space read as `+`), or `undefined` when it is out of range. */
const offsetMinutes = (offset: string): number | undefined => {
  if (offset === "Z") return 0
  const hours = Number(offset.slice(1, 3))
  const minutes = Number(offset.slice(4, 6))
  if (hours > 23 || minutes > 59) return undefined
  const sign = offset.startsWith("-") ? -1 : 1
  return sign * (hours * 60 + minutes)
}

/**
 * Parses an ISO 8601 date (`2026-12-01`) or timestamp (`2026-12-01T10:00:00Z`), or returns
 * `undefined` when the text is not one or names no real day or time. A date, or a time
 * without an offset, is read as UTC. Fractions of a second beyond milliseconds are dropped.
 */
export const parseIsoTimestamp = (text: string): Date | undefined => {
  const match = isoTimestampPattern.exec(text)
  if (match === null) return undefined
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "", offset = "Z"] = match
  const offsetInMinutes = offsetMinutes(offset)
  if (offsetInMinutes === undefined || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    return undefined
  }

  // setUTCFullYear, unlike Date.UTC, does not map the years 0 to 99 to 1900 to 1999.
  const date = new Date(0)
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day))
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined

  const milliseconds = Number(fraction.padEnd(3, "0").slice(0, 3))
  date.setUTCHours(Number(hour), Number(minute) - offsetInMinutes, Number(second), milliseconds)
  return date
}

const groupByValues = [
  "model",
  "requested_model",
  "resolved_model",
  "key",
  "team",
  "provider",
  "endpoint",
  "status",
  "day"
] as const satisfies ReadonlyArray<UsageGroupBy>

const isGroupBy = Schema.is(Schema.Literal(...groupByValues))

const timestampExample = "an ISO 8601 date or timestamp, such as 2026-12-01 or 2026-12-01T10:00:00Z"

// The key id filter is `key_id`, because the `key` parameter carries the admin key.
const filterParams = [
  ["model", "model"],
  ["requested_model", "requested_model"],
  ["key_id", "key"],
  ["team", "team"]
] as const satisfies ReadonlyArray<readonly [string, UsageFilterBy]>

export interface UsageQuery {
  readonly from: Date
  readonly to: Date
  readonly groupBy: UsageGroupBy
  readonly filters: UsageTotalsFilters
}

const defaultRangeMs = 30 * 86_400_000

/** A query parameter with an invalid value, and the message for the client. */
export interface InvalidUsageParam {
  readonly param: string
  readonly message: string
}

const invalidParam = (param: string, expected: string, value: string): InvalidUsageParam => ({
  param,
  message: `Invalid '${param}': expected ${expected}, got ${JSON.stringify(value)}.`
})

/**
 * Decodes `from`, `to`, `group_by` (default `model`) and the optional filters `model`,
 * `requested_model`, `key_id` and `team`, or names the first invalid one. `to` defaults to `now`, and `from` to 30 days
 * before `to`. A `from` after `to` is invalid, also when `to` is the default, because the range
 * would select nothing. A filter must be non-empty and free of NUL characters, which PostgreSQL
 * rejects in text. Other parameters, such as `key`, are ignored, and a repeated parameter is read
 * from its first value.
 */
export const decodeUsageQuery = (params: URLSearchParams, now: Date = new Date()): Either.Either<UsageQuery, InvalidUsageParam> => {
  const dates: Partial<Record<"from" | "to", Date>> = {}
  for (const param of ["from", "to"] as const) {
    const text = params.get(param)
    if (text === null) continue
    const date = parseIsoTimestamp(text)
    if (date === undefined) return Either.left(invalidParam(param, timestampExample, text))
    dates[param] = date
  }

  const groupBy = params.get("group_by") ?? "model"
  if (!isGroupBy(groupBy)) {
    return Either.left(invalidParam("group_by", `one of ${groupByValues.join(", ")}`, groupBy))
  }

  const filters: Partial<Record<UsageFilterBy, string>> = {}
  for (const [param, dimension] of filterParams) {
    const value = params.get(param)
    if (value === null) continue
    if (value === "" || value.includes("\u0000")) {
      return Either.left(invalidParam(param, "a non-empty value without NUL characters", value))
    }
    filters[dimension] = value
  }

  const to = dates.to ?? now
  const from = dates.from ?? new Date(to.getTime() - defaultRangeMs)
  if (from > to) {
    const toText = dates.to === undefined ? `now, ${to.toISOString()}` : to.toISOString()
    return Either.left({
      param: "from",
      message: `Invalid range: 'from' (${from.toISOString()}) is after 'to' (${toText}). Give a 'from' at or before 'to'.`
    })
  }

  return Either.right({ from, to, groupBy, filters })
}
