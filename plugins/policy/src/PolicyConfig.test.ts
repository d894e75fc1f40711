import { describe, expect, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import { PolicyConfig } from "./PolicyConfig.js"

const decode = (input: unknown) => Schema.decodeUnknownEither(PolicyConfig, { errors: "all", onExcessProperty: "error" })(input)

const issues = (input: unknown) => {
  const result = decode(input)
  if (Either.isRight(result)) throw new Error("The configuration decoded")
  return ParseResult.ArrayFormatter.formatErrorSync(result.left)
}

describe("PolicyConfig", () => {
  it("fills the defaults", () => {
    const config = Either.getOrThrow(decode({}))

    expect(config.requireKey).toBe(true)
    expect(config.masterKey).toBeUndefined()
    expect(config.keys).toEqual([])
    expect(config.warnAt).toEqual([0.8])
    expect(config.defaultMaxOutputTokens).toBe(1_024)
    expect(config.keyCacheTtlSeconds).toBe(30)
    expect(config.unpricedModels).toBe("allow")
    expect(config.redis).toBeUndefined()
  })

  it("fills the Redis defaults", () => {
    const config = Either.getOrThrow(decode({ redis: { url: "redis://127.0.0.1:6379" } }))

    expect(config.redis?.keyPrefix).toBe("fluxen:policy:")
    expect(config.redis?.failMode).toBe("open")
    expect(config.redis?.commandTimeoutMs).toBe(500)
    expect(config.redis?.connectTimeoutMs).toBe(2_000)
  })

  it("never repeats an invalid static key in its message", () => {
    const secret = "fx-too-short-secret"

    const found = issues({ keys: [{ key: secret, name: "app" }] })

    expect(found.map((issue) => issue.path.join("."))).toEqual(["keys.0.key"])
    expect(JSON.stringify(found)).not.toContain(secret)
    expect(found[0]!.message).toContain("at least 32 base64url characters")
  })

  it("never repeats the master key or the Redis URL in messages", () => {
    const found = issues({ masterKey: "short-secret", redis: { url: "redis://:hunter2-password@127.0.0.1:6379", failMode: "sideways" } })

    expect(new Set(found.map((issue) => issue.path.join(".")))).toEqual(new Set(["masterKey", "redis.failMode"]))
    expect(JSON.stringify(found)).not.toContain("short-secret")
    expect(JSON.stringify(found)).not.toContain("hunter2-password")
  })

  it("requires a name for scoped entries", () => {
    const found = issues({
      budgets: [{ scope: "team", period: "day", limitUsd: 1 }],
      rateLimits: [{ scope: "global", name: "x", requestsPerMinute: 1 }, { scope: "model", name: "gpt-4o" }]
    })

    expect(found.map((issue) => issue.message)).toEqual([
      "a team entry needs the name of its team",
      "a global entry takes no name",
      "set requestsPerMinute, tokensPerMinute or both"
    ])
  })

  it("rejects two static keys with one name", () => {
    const key = `fx-${"a".repeat(43)}`

    const found = issues({ keys: [{ key, name: "app" }, { key: `fx-${"b".repeat(43)}`, name: "app" }] })

    expect(found[0]!.message).toContain("two static keys are named 'app'")
  })

  it("bounds the Redis timeouts", () => {
    const redis = (timeouts: object) => ({ redis: { url: "redis://127.0.0.1:6379", ...timeouts } })
    expect(Either.getOrThrow(decode(redis({ commandTimeoutMs: 2_147_483_647 }))).redis?.commandTimeoutMs).toBe(2_147_483_647)

    const found = issues(redis({ commandTimeoutMs: 2_147_483_648, connectTimeoutMs: 0 }))

    expect(found.map((issue) => issue.path.join("."))).toEqual(["redis.commandTimeoutMs", "redis.connectTimeoutMs"])
    expect(found[0]?.message).toBe(
      "Expected a whole number of milliseconds from 1 to 2147483647 (about 24.8 days, the longest a timer can wait)"
    )
  })

  it("needs a finite key cache TTL", () => {
    expect(Either.getOrThrow(decode({ keyCacheTtlSeconds: 0 })).keyCacheTtlSeconds).toBe(0)

    expect(issues({ keyCacheTtlSeconds: Number.POSITIVE_INFINITY }).map((issue) => issue.path.join("."))).toEqual(["keyCacheTtlSeconds"])
  })

  it("rejects a short master key and warning fractions outside (0, 1)", () => {
    const found = issues({ masterKey: "short", warnAt: [0.5, 1] })

    expect(found.map((issue) => issue.path.join("."))).toEqual(["masterKey", "warnAt.1"])
  })
})
