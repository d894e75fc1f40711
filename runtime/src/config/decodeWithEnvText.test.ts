import { describe, expect, it } from "vitest"
import { Either, Schema } from "effect"
import { convertedUnder, decodeWithEnvText } from "./decodeWithEnvText.js"
import { interpolateEnv, type ConvertedValue } from "./interpolateEnv.js"

const Section = Schema.Struct({
  tenant: Schema.String,
  port: Schema.Number.pipe(Schema.between(0, 65535)),
  verbose: Schema.Boolean,
  tags: Schema.Array(Schema.String)
})

/** Substitutes `env` into `yamlValue` and decodes the result with `Section`. */
const decodeSection = (yamlValue: unknown, env: Record<string, string>) => {
  const converted: Array<ConvertedValue> = []
  const value = interpolateEnv(yamlValue, env, [], [], converted)
  return decodeWithEnvText(Section, value, converted).decoded
}

const section = { tenant: "${TENANT}", port: "${PORT}", verbose: "${VERBOSE}", tags: ["${TAG}"] }

describe("decodeWithEnvText", () => {
  it("digits for a string stay text", () => {
    const decoded = Either.getOrThrow(decodeSection(section, { TENANT: "007", PORT: "8080", VERBOSE: "true", TAG: "42" }))

    expect(decoded.tenant).toBe("007")
    expect(decoded.tags).toEqual(["42"])
    expect(decoded.port).toBe(8080)
    expect(decoded.verbose).toBe(true)
  })

  it("true for a string stays text", () => {
    const decoded = Either.getOrThrow(decodeSection(section, { TENANT: "true", PORT: "1", VERBOSE: "false", TAG: "x" }))

    expect(decoded.tenant).toBe("true")
    expect(decoded.verbose).toBe(false)
  })

  it("bad number keeps its own message", () => {
    const decoded = decodeSection(section, { TENANT: "acme", PORT: "99999", VERBOSE: "true", TAG: "x" })

    expect(Either.isLeft(decoded)).toBe(true)
    const message = Either.isLeft(decoded) ? decoded.left.message : ""
    expect(message).toContain("between 0 and 65535")
    expect(message).not.toContain('"99999"')
  })

  it("convertedUnder strips the section path", () => {
    const converted: ReadonlyArray<ConvertedValue> = [
      { path: ["plugins", 0, "config", "tenant"], value: 7, text: "007" },
      { path: ["plugins", 1, "config", "tenant"], value: 8, text: "8" },
      { path: ["server", "port"], value: 80, text: "80" }
    ]

    expect(convertedUnder(converted, ["plugins", 0, "config"])).toEqual([{ path: ["tenant"], value: 7, text: "007" }])
  })
})
