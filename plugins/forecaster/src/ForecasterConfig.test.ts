import { describe, expect, it } from "vitest"
import { Either, Redacted, Schema } from "effect"
import { ForecasterConfig } from "./ForecasterConfig.js"

const decode = Schema.decodeUnknownEither(ForecasterConfig, { errors: "all", onExcessProperty: "error" })

describe("ForecasterConfig", () => {
  it("fills the defaults", () => {
    const config = Either.getOrThrow(decode({}))

    expect(config).toEqual({
      budgets: [],
      alertAt: [1],
      alertOn: "expected",
      alertMinHistoryDays: 7,
      checkInterval: 900_000,
      historyDays: 56,
      recommendations: { lookbackDays: 30, minRequests: 20, maxP90CompletionTokens: 300, maxP90PromptTokens: 4_000 },
      pricing: { overrides: {} }
    })
  })

  it("reads budgets, durations and the shadow section", () => {
    const config = Either.getOrThrow(
      decode({
        adminKey: "forecast-admin-key-0123",
        budgets: [{ scope: "key:static:alice", period: "week", limitUsd: 25, alertAt: [0.8, 1] }],
        checkInterval: "5 minutes",
        shadow: { enabled: true, baseUrl: "http://127.0.0.1:8080/v1", candidates: { "gpt-4o": "gpt-4o-mini" }, timeout: "20 seconds" }
      })
    )

    expect(Redacted.value(config.adminKey!)).toBe("forecast-admin-key-0123")
    expect(config.budgets[0]).toEqual({ scope: "key:static:alice", period: "week", limitUsd: 25, alertAt: [0.8, 1] })
    expect(config.checkInterval).toBe(300_000)
    expect(config.shadow).toEqual({
      enabled: true,
      sampleRate: 0.01,
      baseUrl: "http://127.0.0.1:8080/v1",
      candidates: { "gpt-4o": "gpt-4o-mini" },
      timeout: 20_000,
      maxConcurrent: 2
    })
  })

  it.each([
    ["an unknown scope", { budgets: [{ scope: "user:bob", period: "month", limitUsd: 5 }] }],
    ["a non-positive limit", { budgets: [{ scope: "global", period: "month", limitUsd: 0 }] }],
    ["an unknown period", { budgets: [{ scope: "global", period: "year", limitUsd: 5 }] }],
    ["an empty alertAt", { alertAt: [] }],
    ["a short admin key", { adminKey: "short" }],
    ["a zero check interval", { checkInterval: 0 }],
    ["an endless check interval", { checkInterval: Number.POSITIVE_INFINITY }],
    ["a check interval past 24.8 days", { checkInterval: "25 days" }],
    ["an endless shadow timeout", { shadow: { timeout: Number.POSITIVE_INFINITY } }],
    ["too little history", { historyDays: 20 }],
    ["a shadow without baseUrl", { shadow: { enabled: true, candidates: { "gpt-4o": "gpt-4o-mini" } } }],
    ["a shadow without candidates", { shadow: { enabled: true, baseUrl: "http://127.0.0.1:8080/v1" } }],
    ["a sample rate above 1", { shadow: { sampleRate: 2 } }],
    ["a webhook that is not a URL", { webhookUrl: "hooks.example" }],
    ["an unknown key", { budget: [] }]
  ])("rejects %s", (_, input) => {
    expect(Either.isLeft(decode(input))).toBe(true)
  })
})
