import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { type Usage, usageFromOpenAI } from "@fluxen/sdk"
import { Effect } from "effect"
import { costOf, lacksCacheWrite1hPrice, loadShippedPricing, lookupPrice, makePricingTable, type ModelPrice, priceLookupNames, type PricingTable } from "./Pricing.js"

// CI clones the repository next to a `shared/` folder, so the recorded
// provider responses are found relative to this file.
const fixturesDir = new URL("../../../../shared/fixtures/", import.meta.url)

const readFixture = (path: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(path, fixturesDir), "utf8"))

const openAIUsageOf = (path: string): Usage => {
  const usage = usageFromOpenAI(readFixture(path).usage)
  if (usage === undefined) throw new Error(`The fixture ${path} has no usage.`)
  return usage
}

const shippedTable: Effect.Effect<PricingTable, unknown> = Effect.map(loadShippedPricing, (file) =>
  makePricingTable(file)
)

const priceOf = (pricing: PricingTable, model: string): ModelPrice => {
  const price = lookupPrice(pricing, model)
  if (price === undefined) throw new Error(`No price for ${model}`)
  return price
}

describe("shipped pricing table", () => {
  it.effect("decodes with version and note", () =>
    Effect.gen(function* () {
      const file = yield* loadShippedPricing

      expect(file.version).toBe("2026-12-05")
      expect(file.currency).toBe("USD")
      expect(file.note).toMatch(/override/)
    })
  )

  it.effect("prices every listed model", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable
      const listed = [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano",
        "o3", "o4-mini", "gpt-3.5-turbo-instruct", "text-embedding-3-small", "text-embedding-3-large",
        "text-embedding-ada-002", "claude-sonnet-4-5", "claude-sonnet-4", "claude-opus-4-1", "claude-3-opus-20240229",
        "claude-haiku-4-5", "claude-3-5-haiku", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite",
        "gemini-2.0-flash", "gemini-3-pro-preview"
      ]

      for (const model of listed) {
        const price = pricing.models.get(model)
        expect(price, model).toBeDefined()
        expect(price?.takenAt, model).toBe(model.startsWith("claude-") ? "2026-12-05" : "2026-12-04")
      }
    })
  )

  it.effect("Anthropic cache prices follow input", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable

      for (const [model, price] of pricing.models) {
        if (!model.startsWith("claude-")) continue
        expect(price.cacheWrite, model).toBeCloseTo(price.input * 1.25, 10)
        expect(price.cacheWrite1h, model).toBeCloseTo(price.input * 2, 10)
        expect(price.cachedInput, model).toBeCloseTo(price.input * 0.1, 10)
      }
    })
  )
})

describe("costOf with recorded usage", () => {
  it.effect("gpt-4.1-nano text reply", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable
      const usage = openAIUsageOf("openai/chat-completions/text.json")

      expect(usage.promptTokens).toBe(16)
      expect(usage.completionTokens).toBe(363)
      // 16 input at $0.10/M + 363 output at $0.40/M
      expect(costOf(usage, priceOf(pricing, "gpt-4.1-nano-2025-04-14"))).toBeCloseTo(0.0001468, 15)
    })
  )

  it.effect("gpt-5-nano tool call with reasoning", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable
      const usage = openAIUsageOf("openai/chat-completions/tool-call.json")

      expect(usage.promptTokens).toBe(162)
      expect(usage.completionTokens).toBe(287)
      expect(usage.reasoningTokens).toBe(256)
      // 162 input at $0.05/M + 287 output (256 of them reasoning) at $0.40/M
      expect(costOf(usage, priceOf(pricing, "gpt-5-nano-2025-08-07"))).toBeCloseTo(0.0001229, 15)
    })
  )

  it.effect("claude-sonnet-4-5 cache read and write", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable
      const raw = readFixture("anthropic/messages/cache-read-and-write.json").usage
      expect(raw.input_tokens).toBe(3)
      expect(raw.cache_read_input_tokens).toBe(1111)
      expect(raw.cache_creation_input_tokens).toBe(418)
      expect(raw.output_tokens).toBe(33)
      const usage: Usage = {
        promptTokens: raw.input_tokens + raw.cache_read_input_tokens + raw.cache_creation_input_tokens,
        completionTokens: raw.output_tokens,
        cachedInputTokens: raw.cache_read_input_tokens,
        cacheWriteTokens: raw.cache_creation_input_tokens,
        reasoningTokens: 0
      }

      // 3 × $3 + 1111 × $0.30 + 418 × $3.75 + 33 × $15, per million tokens
      expect(costOf(usage, priceOf(pricing, "claude-sonnet-4-5-20250929"))).toBeCloseTo(0.0024048, 15)
    })
  )
})

describe("costOf fallbacks", () => {
  const usage: Usage = {
    promptTokens: 1_000_000,
    completionTokens: 0,
    cachedInputTokens: 400_000,
    cacheWriteTokens: 100_000,
    reasoningTokens: 0
  }

  it("charges cache tokens at input without cache prices", () => {
    expect(costOf(usage, { input: 2, output: 8 })).toBeCloseTo(2, 12)
  })

  it("charges each input kind at its price", () => {
    // 500k uncached × $2 + 400k read × $0.5 + 100k written × $2.5
    expect(costOf(usage, { input: 2, cachedInput: 0.5, cacheWrite: 2.5, output: 8 })).toBeCloseTo(1.45, 12)
  })

  it("never charges negative uncached input", () => {
    const inconsistent: Usage = { ...usage, promptTokens: 10 }
    // 0 uncached + 400k read × $0.5 + 100k written × $2 (the input price)
    expect(costOf(inconsistent, { input: 2, cachedInput: 0.5, output: 8 })).toBeCloseTo(0.4, 12)
  })

  it("keeps sub-cent precision", () => {
    const oneToken: Usage = { ...usage, promptTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0 }
    expect(costOf(oneToken, { input: 0.02, output: 0 })).toBe(2e-8)
  })
})

describe("costOf with 1-hour cache writes", () => {
  // claude-sonnet-4-5 list prices: input $3, cache read $0.30, 5-minute write $3.75, 1-hour write $6, output $15
  const sonnet: ModelPrice = { input: 3, cachedInput: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15 }
  const writes = (total: number, oneHour: number | undefined): Usage => ({
    promptTokens: 100 + total,
    completionTokens: 10,
    cachedInputTokens: 0,
    cacheWriteTokens: total,
    ...(oneHour === undefined ? {} : { cacheWrite1hTokens: oneHour }),
    reasoningTokens: 0
  })

  it("prices 5-minute writes only", () => {
    // 100 × $3 + 1000 × $3.75 + 10 × $15 = $4200 per million tokens
    expect(costOf(writes(1000, 0), sonnet)).toBeCloseTo(0.0042, 15)
  })

  it("prices unsplit writes as 5-minute", () => {
    expect(costOf(writes(1000, undefined), sonnet)).toBeCloseTo(0.0042, 15)
  })

  it("prices 1-hour writes only", () => {
    // 100 × $3 + 1000 × $6 + 10 × $15 = $6450 per million tokens
    expect(costOf(writes(1000, 1000), sonnet)).toBeCloseTo(0.00645, 15)
  })

  it("prices mixed writes separately", () => {
    // 100 × $3 + 600 × $3.75 + 400 × $6 + 10 × $15 = $5100 per million tokens
    expect(costOf(writes(1000, 400), sonnet)).toBeCloseTo(0.0051, 15)
  })

  it("falls back to cacheWrite price", () => {
    const { cacheWrite1h: _omitted, ...withoutOneHour } = sonnet
    // Every write at $3.75: 100 × $3 + 1000 × $3.75 + 10 × $15
    expect(costOf(writes(1000, 400), withoutOneHour)).toBeCloseTo(0.0042, 15)
  })

  it("caps 1-hour writes at the total", () => {
    // An inconsistent split never prices more than the 1000 written tokens: as 1-hour only
    expect(costOf(writes(1000, 5000), sonnet)).toBeCloseTo(0.00645, 15)
  })

  it("flags usage lacking a cacheWrite1h price", () => {
    const { cacheWrite1h: _omitted, ...withoutOneHour } = sonnet
    expect(lacksCacheWrite1hPrice(writes(1000, 400), withoutOneHour)).toBe(true)
    expect(lacksCacheWrite1hPrice(writes(1000, 0), withoutOneHour)).toBe(false)
    expect(lacksCacheWrite1hPrice(writes(1000, 400), sonnet)).toBe(false)
  })
})

describe("lookupPrice", () => {
  it("lists candidate names in order", () => {
    expect(priceLookupNames("openai/gpt-4o-mini-2024-07-18")).toEqual([
      "openai/gpt-4o-mini-2024-07-18",
      "openai/gpt-4o-mini",
      "gpt-4o-mini-2024-07-18",
      "gpt-4o-mini"
    ])
    expect(priceLookupNames("gpt-4o")).toEqual(["gpt-4o"])
  })

  it.effect("resolves dated and prefixed names", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["gpt-4o-mini-2024-07-18", "gpt-4o-mini"],
        ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
        ["claude-3-5-haiku-20241022", "claude-3-5-haiku"],
        ["claude-3-opus-20240229", "claude-3-opus-20240229"],
        ["openai/gpt-4.1", "gpt-4.1"],
        ["anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5"],
        ["models/gemini-2.5-flash", "gemini-2.5-flash"]
      ]

      for (const [requested, listed] of cases) {
        expect(lookupPrice(pricing, requested), requested).toBe(pricing.models.get(listed))
      }
    })
  )

  it.effect("prefers the exact name to a shorter one", () =>
    Effect.gen(function* () {
      const file = yield* loadShippedPricing
      const pricing = makePricingTable(file, { "gpt-4o-2024-05-13": { input: 5, output: 15 } })

      expect(lookupPrice(pricing, "gpt-4o-2024-05-13")?.input).toBe(5)
      expect(lookupPrice(pricing, "gpt-4o-2024-08-06")?.input).toBe(2.5)
    })
  )

  it.effect("returns undefined for unknown models", () =>
    Effect.gen(function* () {
      const pricing = yield* shippedTable

      expect(lookupPrice(pricing, "llama-3.3-70b-versatile")).toBeUndefined()
      expect(lookupPrice(pricing, "gpt-4o-mini-tts")).toBeUndefined()
    })
  )
})

describe("makePricingTable overrides", () => {
  it.effect("replace a shipped entry whole", () =>
    Effect.gen(function* () {
      const file = yield* loadShippedPricing
      const pricing = makePricingTable(file, { "gpt-4o": { input: 1, output: 4 } })
      const price = lookupPrice(pricing, "gpt-4o-2024-08-06")

      expect(price).toEqual({ input: 1, output: 4 })
      expect(pricing.version).toBe(file.version)
    })
  )

  it.effect("add models missing from the file", () =>
    Effect.gen(function* () {
      const file = yield* loadShippedPricing
      const pricing = makePricingTable(file, { "llama-3.3-70b-versatile": { input: 0.59, output: 0.79 } })

      expect(lookupPrice(pricing, "groq/llama-3.3-70b-versatile")?.output).toBe(0.79)
      expect(pricing.models.size).toBe(Object.keys(file.models).length + 1)
    })
  )
})
