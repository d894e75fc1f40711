/**
 * The forecaster's routes through a running gateway, on SQLite and on
 * PostgreSQL: usage is inserted into the gateway's own usage table, then
 * read back as a forecast and as recommendations over HTTP.
 */
import { UsageStore, type UsageRecord } from "@fluxen/runtime"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestGateway } from "../support/gateway.js"
import { readOpenAIError, startHarness, type Harness } from "./harness.js"

const DAY_MS = 86_400_000
const ADMIN_KEY = "forecast-admin-key-0123456789"
const DAILY_USD = 10
const SEEDED_DAYS = 35
const LIMITS = [5, 150, 1_000_000]

const pluginsYaml = `plugins:
  - use: "@fluxen/analyzer"
  - use: "@fluxen/forecaster"
    config:
      adminKey: "${ADMIN_KEY}"
      budgets:
${LIMITS.map((limit) => `        - { scope: "team:search", period: month, limitUsd: ${limit} }`).join("\n")}
        - { scope: "team:search", period: week, limitUsd: 20, alertAt: [0.5, 1] }
        - { scope: "global", period: month, limitUsd: 30 }
`

const record = (overrides: Partial<UsageRecord>): UsageRecord => ({
  requestId: `seed_${randomUUID()}`,
  createdAt: new Date(),
  keyId: null,
  team: null,
  requestedModel: "gpt-4.1-nano",
  resolvedModel: "gpt-4.1-nano",
  provider: "openai",
  endpoint: "chat",
  status: "ok",
  httpStatus: 200,
  stream: false,
  promptTokens: 100,
  completionTokens: 20,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  usageEstimated: false,
  costUsd: 0,
  priceVersion: "seed",
  cacheStatus: null,
  costSavedUsd: null,
  firstByteMs: 50,
  totalMs: 100,
  errorType: null,
  metadata: null,
  ...overrides
})

const startOfToday = (ms: number) => ms - (ms % DAY_MS)

/**
 * Usage of the team "search": 4 + 6 USD on each of the 35 days before today, plus one request of
 * unknown price two days ago. Also 20 short gpt-4o requests yesterday and one 40 days ago, for the
 * recommendations, and one request of the key "key_new" yesterday.
 */
const seedRecords = (nowMs: number): ReadonlyArray<UsageRecord> => {
  const today = startOfToday(nowMs)
  const team = Array.from({ length: SEEDED_DAYS }, (_, index) => {
    const day = today - (SEEDED_DAYS - index) * DAY_MS
    return [
      record({ createdAt: new Date(day + 3_600_000), team: "search", costUsd: 4 }),
      record({ createdAt: new Date(day + 7_200_000), team: "search", costUsd: 6 })
    ]
  }).flat()
  const unpriced = record({ createdAt: new Date(today - 2 * DAY_MS + 10_800_000), team: "search", costUsd: null })
  const gpt4o = Array.from({ length: 20 }, (_, index) =>
    record({
      createdAt: new Date(today - DAY_MS + index * 60_000),
      requestedModel: "gpt-4o",
      resolvedModel: "gpt-4o-2024-08-06",
      promptTokens: 100 * (index + 1),
      completionTokens: 10 * (index + 1),
      cachedInputTokens: index < 4 ? 50 : 0
    })
  )
  const old = record({ createdAt: new Date(nowMs - 40 * DAY_MS), requestedModel: "gpt-4o", resolvedModel: "gpt-4o-2024-08-06" })
  const newKey = record({ createdAt: new Date(today - DAY_MS + 3_600_000), keyId: "key_new", costUsd: 1 })
  return [...team, unpriced, ...gpt4o, old, newKey]
}

const insertUsage = (gateway: TestGateway, records: ReadonlyArray<UsageRecord>) =>
  Effect.runPromise(Effect.flatMap(UsageStore, (store) => store.insertBatch(records)).pipe(Effect.provide(gateway.running.services)))

/**
 * Works out a budget's outlook for the seeded spend by hand: 10 USD on every day of the month
 * before today, none yet today, and 10 USD a day expected from now on.
 */
const expectedOutlook = (limitUsd: number, nowMs: number) => {
  const now = new Date(nowMs)
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)
  const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)
  const today = startOfToday(nowMs)
  const label = (ms: number) => new Date(ms).toISOString().slice(0, 10)

  const spent = (DAILY_USD * (today - monthStart)) / DAY_MS
  if (spent >= limitUsd) return { status: "exceeded", exhaustion_date: label(monthStart + (Math.ceil(limitUsd / DAILY_USD) - 1) * DAY_MS) }
  let cumulative = spent + (DAILY_USD * (today + DAY_MS - nowMs)) / DAY_MS
  if (cumulative >= limitUsd) return { status: "projected-to-exceed", exhaustion_date: label(today) }
  for (let day = today + DAY_MS; day < monthEnd; day += DAY_MS) {
    cumulative += DAILY_USD
    if (cumulative >= limitUsd) return { status: "projected-to-exceed", exhaustion_date: label(day) }
  }
  return { status: "within-budget", exhaustion_date: null }
}

/** Sends a GET with the admin key, another key, or (with null) no Authorization header. */
const getJson = async (gateway: TestGateway, path: string, key: string | null = ADMIN_KEY) =>
  fetch(`${gateway.url}${path}`, key === null ? {} : { headers: { authorization: `Bearer ${key}` } })

describe.each(["sqlite", "postgres"] as const)("forecaster routes on %s", (database) => {
  let harness: Harness
  let seededAt: number

  beforeAll(async () => {
    harness = await startHarness({ database, pluginsYaml })
    seededAt = Date.now()
    await insertUsage(harness.gateway, seedRecords(seededAt))
  })

  afterAll(async () => {
    await harness?.close()
  })

  describe("GET /v1/fluxen/forecast", () => {
    it("rejects a missing admin key", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast", null)
      const body = await readOpenAIError(response)

      expect(response.status).toBe(401)
      expect(body.error.message).toContain("Authorization: Bearer <adminKey>")
      expect(body.error.code).toBe("invalid_admin_key")
    })

    it("accepts the admin key as ?key=", async () => {
      const response = await getJson(harness.gateway, `/v1/fluxen/forecast?key=${ADMIN_KEY}`, null)
      await response.arrayBuffer()

      expect(response.status).toBe(200)
    })

    it("rejects a wrong admin key", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast", "forecast-admin-key-wrong")
      const body = await readOpenAIError(response)

      expect(response.status).toBe(401)
      expect(body.error.code).toBe("invalid_admin_key")
    })

    it("rejects a wrong ?key=", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast?key=forecast-admin-key-wrong", null)
      await response.arrayBuffer()

      expect(response.status).toBe(401)
    })

    it.each([
      ["scope", "/v1/fluxen/forecast?scope=user:bob"],
      ["scope", "/v1/fluxen/forecast?scope=team:"],
      ["period", "/v1/fluxen/forecast?scope=global&period=year"]
    ])("rejects an invalid %s", async (param, path) => {
      const response = await getJson(harness.gateway, path)
      const body = await readOpenAIError(response)

      expect(response.status).toBe(400)
      expect(body.error.param).toBe(param)
      expect(body.error.type).toBe("invalid_request_error")
    })

    it("returns the history, forecast, projection and budgets", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast?scope=team:search&period=month")
      const body = (await response.json()) as Record<string, any>
      const nowMs = Date.parse(body.generated_at)

      expect(response.status).toBe(200)
      expect(Object.keys(body).sort()).toEqual([
        "budgets",
        "forecast",
        "generated_at",
        "history",
        "history_days",
        "method",
        "notes",
        "object",
        "parameters",
        "period",
        "period_end",
        "period_start",
        "preliminary",
        "projection",
        "residual_std_usd",
        "scope",
        "today"
      ])
      expect(body.object).toBe("fluxen.forecast")
      expect(body.scope).toBe("team:search")
      expect(body.period).toBe("month")
      expect(body.method).toBe("holt-winters")
      expect(Object.keys(body.parameters).sort()).toEqual(["alpha", "beta", "gamma"])
      expect(body.residual_std_usd).toBeCloseTo(0, 9)
      expect(body.history_days).toBe(SEEDED_DAYS)
      expect(body.preliminary).toBe(false)
      expect(body.notes).toEqual([])
      expect(nowMs).toBeGreaterThanOrEqual(seededAt)

      // 35 days of 10 USD; the day two days ago also had one request of unknown price.
      expect(body.history).toHaveLength(SEEDED_DAYS)
      const twoDaysAgo = new Date(startOfToday(nowMs) - 2 * DAY_MS).toISOString().slice(0, 10)
      for (const day of body.history) {
        expect(day.cost_usd).toBeCloseTo(DAILY_USD, 9)
        expect([day.requests, day.unpriced_requests]).toEqual(day.date === twoDaysAgo ? [3, 1] : [2, 0])
      }
      expect(body.today).toEqual({ date: new Date(nowMs).toISOString().slice(0, 10), cost_usd: 0, requests: 0, unpriced_requests: 0 })
    })

    it("forecasts each remaining day with its intervals", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=team:search")).json()) as Record<string, any>
      const nowMs = Date.parse(body.generated_at)
      const now = new Date(nowMs)
      const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)
      const remainingDays = (monthEnd - startOfToday(nowMs)) / DAY_MS
      const restOfToday = (startOfToday(nowMs) + DAY_MS - nowMs) / DAY_MS

      expect(body.period_end).toBe(new Date(monthEnd - DAY_MS).toISOString().slice(0, 10))
      expect(body.forecast).toHaveLength(remainingDays)
      expect(body.forecast[0].cost_usd).toBeCloseTo(DAILY_USD * restOfToday, 6)
      for (const point of body.forecast.slice(1)) {
        expect(Object.keys(point).sort()).toEqual(["cost_usd", "date", "lower_80", "lower_95", "recorded_usd", "upper_80", "upper_95"])
        expect(point.cost_usd).toBeCloseTo(DAILY_USD, 6)
        expect(point.lower_95).toBeCloseTo(DAILY_USD, 6)
        expect(point.upper_95).toBeCloseTo(DAILY_USD, 6)
      }
      const spent = (DAILY_USD * (startOfToday(nowMs) - Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))) / DAY_MS
      expect(body.projection.spent_usd).toBeCloseTo(spent, 6)
      expect(body.projection.projected_usd).toBeCloseTo(spent + DAILY_USD * (restOfToday + remainingDays - 1), 6)
    })

    it("dates each budget of the scope and period", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=team:search&period=month")).json()) as Record<string, any>
      const nowMs = Date.parse(body.generated_at)

      expect(body.budgets.map((budget: { limit_usd: number }) => budget.limit_usd)).toEqual(LIMITS)
      for (const budget of body.budgets) {
        expect(budget).toMatchObject({ scope: "team:search", period: "month", alert_at: [1], ...expectedOutlook(budget.limit_usd, nowMs) })
        expect(budget.projected_fraction).toBeCloseTo(body.projection.projected_usd / budget.limit_usd, 9)
      }
    })

    it("lists week budgets for the week", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=team:search&period=week")).json()) as Record<string, any>

      expect(body.budgets).toHaveLength(1)
      expect(body.budgets[0]).toMatchObject({ limit_usd: 20, alert_at: [0.5, 1] })
      expect(body.forecast.length).toBeLessThanOrEqual(7)
    })

    it("forecasts a scope without usage as none", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=key:nobody&period=day")).json()) as Record<string, any>

      expect(body.method).toBe("none")
      expect(body.history).toEqual([])
      expect(body.projection).toEqual({ spent_usd: 0, projected_usd: 0, lower_80: null, upper_80: null, lower_95: null, upper_95: null })
      expect(body.budgets).toEqual([])
    })

    it("notes a scope without usage", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=team:nobody")).json()) as Record<string, any>

      expect(body.notes[0]).toBe(
        "No request of scope team:nobody is recorded in the history read or this period. Check that the scope is spelled as the usage records it."
      )
      expect(body.notes[1]).toBe("The history of 0 complete days is too short to estimate an interval.")
      expect(body.preliminary).toBe(true)
    })

    it("marks a short history preliminary", async () => {
      // The key's traffic started yesterday: one complete day, fitted with the mean method and no interval.
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/forecast?scope=key:key_new")).json()) as Record<string, any>

      expect(body.method).toBe("mean")
      expect(body.history_days).toBe(1)
      expect(body.preliminary).toBe(true)
      expect(body.projection.lower_80).toBeNull()
      expect(body.notes).toEqual([
        "The history of 1 complete day is too short to estimate an interval.",
        "The forecast is preliminary: it rests on 1 complete day, fewer than 7, and its interval leaves out that weekdays and weekends may differ."
      ])
    })
  })

  describe("GET /v1/fluxen/forecast/budgets", () => {
    it("lists every budget with its projection", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast/budgets")
      const body = (await response.json()) as Record<string, any>
      const nowMs = Date.parse(body.generated_at)

      expect(response.status).toBe(200)
      expect(body.object).toBe("list")
      expect(body.data.map((budget: { scope: string; period: string }) => `${budget.scope}/${budget.period}`)).toEqual([
        "team:search/month",
        "team:search/month",
        "team:search/month",
        "team:search/week",
        "global/month"
      ])
      const first = body.data[0]
      expect(first).toMatchObject({ limit_usd: LIMITS[0], method: "holt-winters", history_days: SEEDED_DAYS, preliminary: false })
      expect(first).toMatchObject(expectedOutlook(LIMITS[0]!, nowMs))
      const monthStart = Date.UTC(new Date(nowMs).getUTCFullYear(), new Date(nowMs).getUTCMonth(), 1)
      expect(first.spent_usd).toBeCloseTo((DAILY_USD * (startOfToday(nowMs) - monthStart)) / DAY_MS, 6)
      expect(first.projected_usd).toBeCloseTo(first.projected_fraction * LIMITS[0]!, 9)
    })

    it("rejects a missing admin key", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/forecast/budgets", null)
      const body = await readOpenAIError(response)

      expect(response.status).toBe(401)
      expect(body.error.code).toBe("invalid_admin_key")
    })
  })

  describe("GET /v1/fluxen/recommendations", () => {
    it("rejects a missing admin key", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/recommendations", null)
      const body = await readOpenAIError(response)

      expect(response.status).toBe(401)
      expect(body.error.code).toBe("invalid_admin_key")
    })

    it("accepts the admin key as ?key=", async () => {
      const response = await getJson(harness.gateway, `/v1/fluxen/recommendations?key=${ADMIN_KEY}`, null)
      await response.arrayBuffer()

      expect(response.status).toBe(200)
    })

    it("rejects an invalid lookback", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/recommendations?lookback_days=0")
      const body = await readOpenAIError(response)

      expect(response.status).toBe(400)
      expect(body.error.param).toBe("lookback_days")
    })

    it("recommends gpt-4o-mini with the saving worked out by hand", async () => {
      const response = await getJson(harness.gateway, "/v1/fluxen/recommendations")
      const body = (await response.json()) as Record<string, any>

      expect(response.status).toBe(200)
      expect(body.object).toBe("fluxen.recommendations")
      expect(body.lookback_days).toBe(30)
      // A request older than the window exists, so the whole window counts.
      expect(body.covered_days).toBe(30)
      expect(body.rules).toEqual({ min_requests: 20, max_p90_completion_tokens: 300, max_p90_prompt_tokens: 4_000 })
      expect(body.shadow_evaluations).toEqual([])
      // gpt-4.1-nano is already the cheapest tier of its family.
      expect(body.data).toHaveLength(1)

      const [recommendation] = body.data
      expect(Object.keys(recommendation).sort()).toEqual([
        "candidate_cost_usd",
        "confidence",
        "current_cost_usd",
        "evidence",
        "from",
        "monthly_saving_usd",
        "requested_models",
        "requests",
        "to",
        "why"
      ])
      expect(recommendation.from).toBe("gpt-4o-2024-08-06")
      expect(recommendation.to).toBe("gpt-4o-mini")
      expect(recommendation.requests).toBe(20)
      expect(recommendation.requested_models).toEqual([{ model: "gpt-4o", requests: 20 }])
      // 20,800 uncached input, 200 cached and 2,100 output tokens: gpt-4o at 2.5 / 1.25 / 10 USD
      // per million tokens, gpt-4o-mini at 0.15 / 0.075 / 0.6, over the full 30 days.
      expect(recommendation.current_cost_usd).toBeCloseTo((20_800 * 2.5 + 200 * 1.25 + 2_100 * 10) / 1e6, 15)
      expect(recommendation.candidate_cost_usd).toBeCloseTo((20_800 * 0.15 + 200 * 0.075 + 2_100 * 0.6) / 1e6, 15)
      expect(recommendation.monthly_saving_usd).toBeCloseTo(0.068855, 15)
      expect(recommendation.confidence).toBe("low")
      expect(recommendation.why).toMatchObject({
        rule: "short-outputs-small-prompts",
        p90_completion_tokens: 180,
        max_p90_completion_tokens: 300,
        p90_prompt_tokens: 1_800,
        max_p90_prompt_tokens: 4_000,
        candidate_source: "family",
        family: "gpt-4o"
      })
      expect(recommendation.why.summary).toContain("90% of 20 successful requests produced at most 180 completion tokens")
      expect(recommendation.evidence).toEqual({ shadow: null })
    })

    it("scales a shorter lookback to 30 days", async () => {
      const body = (await (await getJson(harness.gateway, "/v1/fluxen/recommendations?lookback_days=10")).json()) as Record<string, any>

      expect(body.covered_days).toBe(10)
      expect(body.data[0].monthly_saving_usd).toBeCloseTo(0.068855 * 3, 15)
    })
  })
})
