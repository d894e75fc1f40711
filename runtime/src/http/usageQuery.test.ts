import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeUsageQuery, parseIsoTimestamp } from "./usageQuery.js"

describe("parseIsoTimestamp", () => {
  it.each([
    ["2026-12-01", "2026-12-01T00:00:00.000Z"],
    ["2026-12-01T10:00Z", "2026-12-01T10:00:00.000Z"],
    ["2026-12-01T10:00:00Z", "2026-12-01T10:00:00.000Z"],
    ["2026-12-01T10:00:00.5Z", "2026-12-01T10:00:00.500Z"],
    ["2026-12-01T10:00:00.123456Z", "2026-12-01T10:00:00.123Z"],
    ["2026-12-01T10:00:00", "2026-12-01T10:00:00.000Z"],
    ["2026-12-01T01:30:00+02:00", "2026-11-30T23:30:00.000Z"],
    ["2026-12-01T23:30:00-01:45", "2026-12-02T01:15:00.000Z"],
    // An unescaped "+" in a query string arrives as a space.
    ["2026-12-01T01:30:00 02:00", "2026-11-30T23:30:00.000Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
    ["0050-01-01", "0050-01-01T00:00:00.000Z"]
  ])("reads %s", (text, expected) => {
    expect(parseIsoTimestamp(text)?.toISOString()).toBe(expected)
  })

  it.each([
    "1",
    "yesterday",
    "",
    "2026-13-45",
    "2026-00-10",
    "2026-02-29",
    "2026-02-30",
    "2026-04-31",
    "2026-12-00",
    "2026-12-01T24:00:00Z",
    "2026-12-01T10:60:00Z",
    "2026-12-01T10:00:60Z",
    "2026-12-01T10:00:00+24:00",
    "2026-12-01T10",
    "2026-12-01 10:00:00Z",
    "12/01/2026",
    "2026-12-01Z"
  ])("rejects %j", (text) => {
    expect(parseIsoTimestamp(text)).toBeUndefined()
  })
})

describe("decodeUsageQuery", () => {
  it("defaults to the last 30 days", () => {
    const now = new Date("2026-12-05T12:00:00Z")
    const query = decodeUsageQuery(new URLSearchParams(""), now)

    expect(query).toEqual(Either.right({ from: new Date("2026-11-05T12:00:00Z"), to: now, groupBy: "model", filters: {} }))
  })

  it("rejects a future from alone", () => {
    const query = decodeUsageQuery(new URLSearchParams("from=2026-12-06"), new Date("2026-12-05T12:00:00Z"))

    expect(Either.isLeft(query)).toBe(true)
    expect(Either.isLeft(query) ? query.left.param : undefined).toBe("from")
  })

  it("ignores the key parameter", () => {
    const query = decodeUsageQuery(new URLSearchParams("key=secret-admin-key&group_by=day"))

    expect(Either.getOrThrow(query).groupBy).toBe("day")
    expect(Either.getOrThrow(query).filters).toEqual({})
  })

  it.each(["model", "requested_model", "resolved_model", "key", "team", "provider", "endpoint", "status", "day"])(
    "accepts group_by=%s",
    (groupBy) => {
      const query = decodeUsageQuery(new URLSearchParams({ group_by: groupBy }))

      expect(Either.getOrThrow(query).groupBy).toBe(groupBy)
    }
  )

  it("reads the filters", () => {
    const query = decodeUsageQuery(new URLSearchParams("model=gpt-4o&requested_model=smart&key_id=key_a&team=(none)"))

    expect(Either.getOrThrow(query).filters).toEqual({ model: "gpt-4o", requested_model: "smart", key: "key_a", team: "(none)" })
  })

  it.each(["model", "requested_model", "key_id", "team"])("rejects an empty %s", (param) => {
    const query = decodeUsageQuery(new URLSearchParams({ [param]: "" }))

    const invalid = Either.getOrThrow(Either.flip(query))
    expect(invalid.param).toBe(param)
    expect(invalid.message).toBe(`Invalid '${param}': expected a non-empty value without NUL characters, got "".`)
  })

  it("rejects a NUL in a filter", () => {
    const query = decodeUsageQuery(new URLSearchParams({ team: "fin\u0000ance" }))

    expect(Either.getOrThrow(Either.flip(query)).param).toBe("team")
  })

  it("lists the group_by values", () => {
    const query = decodeUsageQuery(new URLSearchParams("group_by=user"))

    expect(Either.getOrThrow(Either.flip(query)).message).toBe(
      `Invalid 'group_by': expected one of model, requested_model, resolved_model, key, team, provider, endpoint, status, day, got "user".`
    )
  })

  it("rejects from after to", () => {
    const query = decodeUsageQuery(new URLSearchParams("from=2026-12-06&to=2026-12-01"))

    const invalid = Either.getOrThrow(Either.flip(query))
    expect(invalid.param).toBe("from")
    expect(invalid.message).toBe(
      "Invalid range: 'from' (2026-12-06T00:00:00.000Z) is after 'to' (2026-12-01T00:00:00.000Z). Give a 'from' at or before 'to'."
    )
  })

  it("accepts an empty range", () => {
    const query = decodeUsageQuery(new URLSearchParams("from=2026-12-01&to=2026-12-01"))

    expect(Either.isRight(query)).toBe(true)
  })

  it("names the first invalid parameter", () => {
    const query = decodeUsageQuery(new URLSearchParams("from=2026-12-01&to=soon&group_by=bogus"))

    const invalid = Either.getOrThrow(Either.flip(query))
    expect(invalid.param).toBe("to")
    expect(invalid.message).toBe(
      `Invalid 'to': expected an ISO 8601 date or timestamp, such as 2026-12-01 or 2026-12-01T10:00:00Z, got "soon".`
    )
  })
})
