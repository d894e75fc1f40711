import { describe, expect, it } from "@effect/vitest"
import { makeRequestContext } from "@fluxen/sdk/testing"
import { Effect, Logger, Schema } from "effect"
import { Rule } from "./RulesConfig.js"
import { makeRulesHooks } from "./RulesHooks.js"

const cheapTier = Schema.decodeUnknownSync(Rule)({
  name: "cheap-tier",
  when: 'headers["x-tier"] == "cheap"',
  action: "route",
  model: "gpt-4o-mini"
})

const hooks = makeRulesHooks([cheapTier], ["x-tier"])

/** Runs the rules on a chat request with these headers, and returns the routed model and the warnings logged. */
const runRules = (headers: Record<string, string>) => {
  const warnings: Array<unknown> = []
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message, logLevel }) => {
      if (logLevel.label === "WARN") warnings.push(message)
    })
  )
  const context = makeRequestContext({ request: { model: "gpt-4o", messages: [] }, headers })
  return hooks.beforeRequest!(context).pipe(
    Effect.map(() => ({ model: context.request.model, warnings })),
    Effect.provide(capture)
  )
}

describe("rules headers", () => {
  it.effect("matches a listed header", () =>
    Effect.gen(function* () {
      const result = yield* runRules({ "x-tier": "cheap" })

      expect(result.model).toBe("gpt-4o-mini")
    })
  )

  it.effect("reads a missing header as empty", () =>
    Effect.gen(function* () {
      const result = yield* runRules({})

      expect(result.model).toBe("gpt-4o")
      expect(result.warnings).toEqual([])
    })
  )
})

describe("rules cap", () => {
  const capFree = Schema.decodeUnknownSync(Rule)({ name: "cap-free", when: "true", action: "cap", maxTokens: 50 })
  const capHooks = makeRulesHooks([capFree], [])

  it.effect("caps a null max_tokens", () =>
    Effect.gen(function* () {
      const context = makeRequestContext({ request: { model: "gpt-4o", messages: [], max_tokens: null } })

      yield* capHooks.beforeRequest!(context)

      expect(context.request.max_tokens).toBe(50)
    })
  )
})
