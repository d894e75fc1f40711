/** Schema failures turned into configuration issues, for the shapes plugin schemas use. */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { issuesFromParseError } from "./ConfigError.js"

const formatPath = (path: ReadonlyArray<string | number>) => path.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("").slice(1)

const issuesOf = <A, I>(schema: Schema.Schema<A, I>, input: unknown) => {
  const result = Schema.decodeUnknownEither(schema)(input)
  if (Either.isRight(result)) throw new Error("expected a decoding failure")
  return issuesFromParseError(result.left.issue, ["plugins", 0, "config"], formatPath)
}

describe("issuesFromParseError", () => {
  it("empty NonEmptyArray: one item needed", () => {
    const issues = issuesOf(Schema.Struct({ blockedWords: Schema.NonEmptyArray(Schema.String) }), { blockedWords: [] })

    expect(issues).toEqual([{ path: "plugins[0].config.blockedWords", message: "Must contain at least one item." }])
  })

  it("missing field keeps its message", () => {
    const issues = issuesOf(Schema.Struct({ name: Schema.String }), {})

    expect(issues).toEqual([{ path: "plugins[0].config.name", message: "is missing" }])
  })
})
