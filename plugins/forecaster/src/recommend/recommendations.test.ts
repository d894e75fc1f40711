import { describe, expect, it, layer } from "@effect/vitest"
import type { UsageRecord } from "@fluxen/runtime"
import { Effect, Layer } from "effect"
import { loadPricing } from "../pricing.js"
import { makeShadowStore, type ShadowResult } from "../shadow/ShadowStore.js"
import { layerTestUsageDatabase, makeUsageRecord, testDialects, TestUsageDatabase } from "../testing/usageDatabase.js"
import { nextCheaperTier } from "./modelFamilies.js"
import { confidenceOf, coveredDays, recommendModels } from "./recommendModels.js"
import { makeUsageProfiles, type ModelUsageProfile } from "./usageProfiles.js"

const NOW = Date.parse("2025-06-01T00:00:00.000Z")
const DAY_MS = 86_400_000
const FROM = NOW - 30 * DAY_MS
const rules = { minRequests: 20, maxP90CompletionTokens: 300, maxP90PromptTokens: 4_000 }

const inWindow = (index: number) => new Date(FROM + DAY_MS + index * 3_600_000)

// gpt-4o: 20 short requests, request i (1 to 20) with 100·i prompt and 10·i completion tokens;
// the first four read 50 cached tokens each. Nearest-rank p90 is the 18th: 1,800 and 180.
const gpt4o = Array.from({ length: 20 }, (_, index) =>
  makeUsageRecord({
    createdAt: inWindow(index),
    requestedModel: index < 5 ? "smart" : "gpt-4o",
    resolvedModel: "gpt-4o-2024-08-06",
    promptTokens: 100 * (index + 1),
    completionTokens: 10 * (index + 1),
    cachedInputTokens: index < 4 ? 50 : 0
  })
)

// Requests that must not count: an error, a cache hit, embeddings, unknown tokens, and one before the window.
const huge = { promptTokens: 1_000_000, completionTokens: 1_000_000 }
const uncounted = [
  makeUsageRecord({ createdAt: inWindow(30), resolvedModel: "gpt-4o-2024-08-06", status: "error", httpStatus: 500, ...huge }),
  makeUsageRecord({ createdAt: inWindow(31), resolvedModel: "gpt-4o-2024-08-06", cacheStatus: "hit", ...huge }),
  makeUsageRecord({ createdAt: inWindow(32), resolvedModel: "gpt-4o-2024-08-06", endpoint: "embeddings", ...huge }),
  makeUsageRecord({ createdAt: inWindow(33), resolvedModel: "gpt-4o-2024-08-06", promptTokens: null, completionTokens: null }),
  makeUsageRecord({ createdAt: new Date(FROM - DAY_MS), resolvedModel: "gpt-4o-2024-08-06", ...huge })
]

// claude-sonnet-4-5: 30 requests of 500 prompt and 50 completion tokens; ten write 100 tokens to
// the prompt cache (four of them to the 1-hour cache) and ten others read 200 from it.
const sonnet = Array.from({ length: 30 }, (_, index) =>
  makeUsageRecord({
    createdAt: inWindow(index),
    requestedModel: "claude-sonnet-4-5",
    resolvedModel: "claude-sonnet-4-5-20250929",
    provider: "anthropic",
    endpoint: "messages",
    promptTokens: 500,
    completionTokens: 50,
    cacheWriteTokens: index < 10 ? 100 : 0,
    cacheWrite1hTokens: index < 4 ? 100 : 0,
    cachedInputTokens: index >= 10 && index < 20 ? 200 : 0
  })
)

// Not recommended: long outputs (gpt-4.1), the cheapest tier (gpt-4o-mini), too few requests (gpt-5).
const notRecommended = [
  ...Array.from({ length: 25 }, (_, index) =>
    makeUsageRecord({ createdAt: inWindow(index), requestedModel: "gpt-4.1", resolvedModel: "gpt-4.1", completionTokens: 280 + 10 * index })
  ),
  ...Array.from({ length: 25 }, (_, index) =>
    makeUsageRecord({ createdAt: inWindow(index), requestedModel: "gpt-4o-mini", resolvedModel: "gpt-4o-mini-2024-07-18" })
  ),
  ...Array.from({ length: 19 }, (_, index) => makeUsageRecord({ createdAt: inWindow(index), requestedModel: "gpt-5", resolvedModel: "gpt-5" }))
]

const records: ReadonlyArray<UsageRecord> = [...gpt4o, ...uncounted, ...sonnet, ...notRecommended]

const shadow = (requestId: string, result: Partial<ShadowResult>): ShadowResult => ({
  requestId,
  createdAtMs: FROM + 2 * DAY_MS,
  model: "gpt-4o-2024-08-06",
  candidate: "gpt-4o-mini",
  status: "ok",
  comparison: "exact",
  score: 1,
  originalCompletionTokens: 5,
  candidateCompletionTokens: 6,
  candidateLatencyMs: 300,
  errorType: null,
  ...result
})

const shadowResults = [
  shadow("s1", {}),
  shadow("s2", {}),
  shadow("s3", { score: 0 }),
  shadow("s4", { comparison: "jaccard", score: 0.5 }),
  shadow("s5", { comparison: "jaccard", score: 0.75 }),
  shadow("s6", { status: "error", comparison: null, score: null, errorType: "http_429" }),
  // Another pair, and a result before the window.
  shadow("s7", { candidate: "gpt-4.1-nano" }),
  shadow("s8", { createdAtMs: FROM - DAY_MS, score: 0 })
]

for (const dialect of testDialects) {
  const seeded = Layer.effectDiscard(
    Effect.gen(function* () {
      const database = yield* TestUsageDatabase
      const store = yield* makeShadowStore
      yield* database.insert(records)
      yield* Effect.forEach(shadowResults, store.insert)
    })
  )

  layer(seeded.pipe(Layer.provideMerge(layerTestUsageDatabase(dialect))))(`recommendations on ${dialect}`, (it) => {
    it.effect("profiles each model's counted requests", () =>
      Effect.gen(function* () {
        const profiles = yield* makeUsageProfiles

        const read = yield* profiles.read(FROM, NOW)

        expect(read.map((profile) => profile.model)).toEqual([
          "claude-sonnet-4-5-20250929",
          "gpt-4.1",
          "gpt-4o-2024-08-06",
          "gpt-4o-mini-2024-07-18",
          "gpt-5"
        ])
        expect(read.find((profile) => profile.model === "gpt-4o-2024-08-06")).toEqual({
          model: "gpt-4o-2024-08-06",
          requests: 20,
          promptTokens: 21_000,
          completionTokens: 2_100,
          cachedInputTokens: 200,
          cacheWriteTokens: 0,
          cacheWrite1hTokens: 0,
          p90PromptTokens: 1_800,
          p90CompletionTokens: 180,
          requestedModels: [
            { model: "gpt-4o", requests: 15 },
            { model: "smart", requests: 5 }
          ]
        })
        // 25 requests of 280 to 520 completion tokens: the 23rd is 280 + 10 · 22.
        expect(read.find((profile) => profile.model === "gpt-4.1")?.p90CompletionTokens).toBe(500)
      })
    )

    it.effect("finds the oldest request", () =>
      Effect.gen(function* () {
        const profiles = yield* makeUsageProfiles

        expect(yield* profiles.firstRequestMs(NOW)).toBe(FROM - DAY_MS)
        expect(yield* profiles.firstRequestMs(FROM - DAY_MS)).toBeUndefined()
      })
    )

    it.effect("summarizes shadow results per pair", () =>
      Effect.gen(function* () {
        const store = yield* makeShadowStore

        const summaries = yield* store.summaries(FROM, NOW)

        expect(summaries).toEqual([
          {
            model: "gpt-4o-2024-08-06",
            candidate: "gpt-4.1-nano",
            samples: 1,
            failed: 0,
            exactSamples: 1,
            exactMatches: 1,
            jaccardSamples: 0,
            meanJaccard: null
          },
          {
            model: "gpt-4o-2024-08-06",
            candidate: "gpt-4o-mini",
            samples: 6,
            failed: 1,
            exactSamples: 3,
            exactMatches: 2,
            jaccardSamples: 2,
            meanJaccard: 0.625
          }
        ])
      })
    )

    it.effect("recommends cheaper tiers with exact savings", () =>
      Effect.gen(function* () {
        const profiles = yield* makeUsageProfiles
        const store = yield* makeShadowStore
        const pricing = yield* loadPricing({})

        const recommendations = recommendModels({
          profiles: yield* profiles.read(FROM, NOW),
          pricing,
          rules,
          coveredDays: coveredDays({ lookbackDays: 30, nowMs: NOW, firstRequestMs: yield* profiles.firstRequestMs(NOW) }),
          configuredCandidates: {},
          shadowSummaries: yield* store.summaries(FROM, NOW)
        })

        // gpt-4o at 2.5 / 1.25 cached / 10 output USD per million tokens, gpt-4o-mini at 0.15 / 0.075 / 0.6:
        // 20,800 uncached input, 200 cached and 2,100 output tokens, over the full 30 days.
        const gpt4oCost = (20_800 * 2.5 + 200 * 1.25 + 2_100 * 10) / 1e6
        const miniCost = (20_800 * 0.15 + 200 * 0.075 + 2_100 * 0.6) / 1e6
        // claude-sonnet-4-5 at 3 / 0.3 cached / 3.75 cache write / 6 1-hour cache write / 15 output, and
        // claude-haiku-4-5 at 1 / 0.1 / 1.25 / 2 / 5. The counts are 12,000 uncached input, 2,000 cached,
        // 600 5-minute cache-write, 400 1-hour cache-write and 1,500 output tokens.
        const sonnetCost = (12_000 * 3 + 2_000 * 0.3 + 600 * 3.75 + 400 * 6 + 1_500 * 15) / 1e6
        const haikuCost = (12_000 * 1 + 2_000 * 0.1 + 600 * 1.25 + 400 * 2 + 1_500 * 5) / 1e6

        expect(recommendations.map((recommendation) => [recommendation.from, recommendation.to])).toEqual([
          ["gpt-4o-2024-08-06", "gpt-4o-mini"],
          ["claude-sonnet-4-5-20250929", "claude-haiku-4-5"]
        ])
        const [first, second] = recommendations
        expect(first!.currentCostUsd).toBeCloseTo(gpt4oCost, 15)
        expect(first!.candidateCostUsd).toBeCloseTo(miniCost, 15)
        expect(first!.monthlySavingUsd).toBeCloseTo(0.068855, 15)
        expect(first!.monthlySavingUsd).toBeCloseTo(gpt4oCost - miniCost, 15)
        expect(second!.monthlySavingUsd).toBeCloseTo(0.0425, 15)
        expect(second!.monthlySavingUsd).toBeCloseTo(sonnetCost - haikuCost, 15)
        expect(first!.requests).toBe(20)
        expect(first!.confidence).toBe("low")
        expect(first!.why).toMatchObject({
          rule: "short-outputs-small-prompts",
          p90CompletionTokens: 180,
          p90PromptTokens: 1_800,
          candidateSource: "family",
          family: "gpt-4o"
        })
        expect(first!.evidence.shadow).toMatchObject({ candidate: "gpt-4o-mini", samples: 6, exactMatches: 2 })
        expect(second!.evidence.shadow).toBeNull()
      })
    )
  })
}

const profile = (overrides: Partial<ModelUsageProfile>): ModelUsageProfile => ({
  model: "gpt-4.1",
  requests: 1_000,
  promptTokens: 1_000_000,
  completionTokens: 100_000,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  p90PromptTokens: 1_500,
  p90CompletionTokens: 150,
  requestedModels: [{ model: "gpt-4.1", requests: 1_000 }],
  ...overrides
})

describe("recommendModels", () => {
  it.effect("scales the saving to 30 days", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({})

      const [recommendation] = recommendModels({ profiles: [profile({})], pricing, rules, coveredDays: 10, configuredCandidates: {}, shadowSummaries: [] })

      // gpt-4.1 at 2 / 8, gpt-4.1-mini at 0.4 / 1.6: (1,000,000 · 1.6 + 100,000 · 6.4) / 1e6 = 2.24 USD in 10 days.
      expect(recommendation!.to).toBe("gpt-4.1-mini")
      expect(recommendation!.monthlySavingUsd).toBeCloseTo(2.24 * 3, 12)
      // 1,000 requests, but over 10 days, fewer than the 14 that "high" needs.
      expect(recommendation!.confidence).toBe("medium")
    })
  )

  it.effect("prefers the configured shadow candidate", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({})

      const [recommendation] = recommendModels({
        profiles: [profile({})],
        pricing,
        rules,
        coveredDays: 30,
        configuredCandidates: { "gpt-4.1": "gpt-4.1-nano" },
        shadowSummaries: []
      })

      expect(recommendation!.to).toBe("gpt-4.1-nano")
      expect(recommendation!.why.candidateSource).toBe("shadow-config")
      expect(recommendation!.why.family).toBeNull()
    })
  )

  it.effect("skips a candidate priced higher by an override", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({ "gpt-4.1-mini": { input: 5, output: 20 } })

      const list = recommendModels({ profiles: [profile({})], pricing, rules, coveredDays: 30, configuredCandidates: {}, shadowSummaries: [] })

      expect(list).toEqual([])
    })
  )

  it.effect("applies the prompt rule", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({})

      const list = recommendModels({
        profiles: [profile({ p90PromptTokens: 4_001 })],
        pricing,
        rules,
        coveredDays: 30,
        configuredCandidates: {},
        shadowSummaries: []
      })

      expect(list).toEqual([])
    })
  )
})

describe("nextCheaperTier", () => {
  it.each([
    ["gpt-4o-2024-08-06", "gpt-4o-mini"],
    ["openai/gpt-4.1", "gpt-4.1-mini"],
    ["gpt-4.1-mini", "gpt-4.1-nano"],
    ["gpt-5", "gpt-5-mini"],
    ["gpt-5-mini-2025-08-07", "gpt-5-nano"],
    ["claude-opus-4-1-20250805", "claude-sonnet-4-5"],
    ["claude-3-opus-20240229", "claude-sonnet-4-5"],
    ["claude-sonnet-4-20250514", "claude-haiku-4-5"],
    ["gemini-2.5-pro", "gemini-2.5-flash"],
    ["gemini-2.5-flash", "gemini-2.5-flash-lite"],
    ["o3", "o4-mini"]
  ])("steps %s down to %s", (model, candidate) => {
    expect(nextCheaperTier(model)?.candidate).toBe(candidate)
  })

  it.each(["gpt-4o-mini", "gpt-4.1-nano", "claude-haiku-4-5", "gemini-2.5-flash-lite", "o4-mini", "text-embedding-3-small", "gpt-4o-audio"])(
    "has none for %s",
    (model) => {
      expect(nextCheaperTier(model)).toBeUndefined()
    }
  )
})

describe("confidence and coverage", () => {
  it.each([
    [99, 30, "low"],
    [100, 30, "medium"],
    [999, 30, "medium"],
    [1_000, 30, "high"],
    [1_000, 13.9, "medium"],
    [5_000, 6.9, "low"],
    [5_000, 1, "low"],
    [100, 7, "medium"],
    [1_000, 14, "high"]
  ] as const)("rates %i requests over %d days %s", (requests, days, confidence) => {
    expect(confidenceOf(requests, days)).toBe(confidence)
  })

  it("covers the whole window when older traffic exists", () => {
    expect(coveredDays({ lookbackDays: 30, nowMs: NOW, firstRequestMs: NOW - 40 * DAY_MS })).toBe(30)
  })

  it("covers no day without traffic", () => {
    expect(coveredDays({ lookbackDays: 30, nowMs: NOW, firstRequestMs: undefined })).toBe(0)
  })

  it("covers the days since the first request", () => {
    expect(coveredDays({ lookbackDays: 30, nowMs: NOW, firstRequestMs: NOW - 7.5 * DAY_MS })).toBe(7.5)
    expect(coveredDays({ lookbackDays: 30, nowMs: NOW, firstRequestMs: NOW - 6 * 3_600_000 })).toBe(0.25)
  })

  it.effect("scales a partial day as one day", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({})
      const recommend = (days: number) =>
        recommendModels({ profiles: [profile({})], pricing, rules, coveredDays: days, configuredCandidates: {}, shadowSummaries: [] })

      expect(recommend(0.25)[0]!.monthlySavingUsd).toBe(recommend(1)[0]!.monthlySavingUsd)
    })
  )

  it.effect("rates one busy day low", () =>
    Effect.gen(function* () {
      const pricing = yield* loadPricing({})

      const [recommendation] = recommendModels({
        profiles: [profile({ requests: 5_000 })],
        pricing,
        rules,
        coveredDays: 1,
        configuredCandidates: {},
        shadowSummaries: []
      })

      expect(recommendation!.confidence).toBe("low")
    })
  )
})
