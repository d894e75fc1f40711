/**
 * The dashboard in headless Chromium: a gateway with known usage records and
 * a plugin serving the forecaster's and the policy plugin's routes with fixed
 * responses, opened with the admin key. The rendered totals, top lists and
 * plugin panels must equal the known values, the uPlot charts must have
 * drawn, and a screenshot goes to test/dist/dashboard.png. Chromium is
 * Debian's /usr/bin/chromium, which .ci/run installs.
 */
import { UsageStore, type UsageRecord } from "@fluxen/runtime"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium, type BrowserContext, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NO_PLUGINS, startHarness, UPSTREAM_API_KEY, type Harness } from "../e2e/harness.js"

const ADMIN_KEY = "dashboard-test-admin-key-0123456789"
const CHROMIUM = "/usr/bin/chromium"
const screenshotPath = fileURLToPath(new URL("../../dist/dashboard.png", import.meta.url))
// The test gateway imports plugins by file path; tsc compiles this module next to the others in test/dist.
const staticRoutesPluginPath = fileURLToPath(new URL("../../dist/browser/staticRoutesPlugin.js", import.meta.url))

const dayMs = 86_400_000
const adminYaml = `admin:\n  key: ${ADMIN_KEY}\n`
// The real forecaster with the same key as admin.key, so the page can read its routes.
const forecasterPluginsYaml = `plugins:
  - use: "@fluxen/forecaster"
    config:
      adminKey: "${ADMIN_KEY}"
      budgets:
        - { scope: global, period: month, limitUsd: 100 }
`

// ============================================================================
// Known usage
// ============================================================================

interface RecordSpec {
  readonly model: string
  readonly provider: string
  readonly keyId: string
  readonly team: string
  readonly costUsd: number | null
  readonly status?: "ok" | "error"
  /** The error's tag and HTTP status, for a request with status `error`. */
  readonly errorType?: string
  readonly httpStatus?: number
  readonly cacheHit?: boolean
}

/**
 * 18 requests over the last 30 days: gpt-4.1 costs $10.00 in 4 requests,
 * claude-sonnet-4 $4.50 in 3, and gpt-4o-mini $1.00 in 10, two of them
 * cache hits that saved $0.10 each and one refused by a rate limit (status
 * `error`, a `LimitExceededError`). The model "unpriced-model" has one successful request without a price.
 */
const specs: ReadonlyArray<RecordSpec> = [
  ...Array.from({ length: 4 }, (): RecordSpec => ({ model: "gpt-4.1", provider: "openai", keyId: "key-alpha", team: "research", costUsd: 2.5 })),
  ...Array.from({ length: 3 }, (): RecordSpec => ({ model: "claude-sonnet-4", provider: "anthropic", keyId: "key-beta", team: "support", costUsd: 1.5 })),
  ...Array.from({ length: 7 }, (): RecordSpec => ({ model: "gpt-4o-mini", provider: "openai", keyId: "key-beta", team: "support", costUsd: 0.1 })),
  { model: "gpt-4o-mini", provider: "openai", keyId: "key-gamma", team: "research", costUsd: 0.3, status: "error", errorType: "LimitExceededError", httpStatus: 429 },
  ...Array.from({ length: 2 }, (): RecordSpec => ({ model: "gpt-4o-mini", provider: "openai", keyId: "key-gamma", team: "research", costUsd: 0, cacheHit: true })),
  { model: "unpriced-model", provider: "openai", keyId: "key-alpha", team: "research", costUsd: null }
]

/**
 * Makes the records, spread over the days so that today has some. Successful
 * requests take 100, 200, … 1700 ms, and their first byte comes after a quarter of that.
 */
const makeRecords = (now: number): Array<UsageRecord> => {
  let okIndex = 0
  return specs.map((spec, index) => {
    const ok = spec.status !== "error"
    const totalMs = ok ? ++okIndex * 100 : 50
    return {
      requestId: `dashboard-${index}`,
      createdAt: new Date(now - (index % 10) * 3 * dayMs - 60_000),
      keyId: spec.keyId,
      team: spec.team,
      requestedModel: spec.model,
      resolvedModel: spec.model,
      provider: spec.provider,
      endpoint: "chat",
      status: ok ? "ok" : "error",
      httpStatus: spec.httpStatus ?? (ok ? 200 : 502),
      stream: false,
      promptTokens: 1000,
      completionTokens: 250,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      usageEstimated: false,
      costUsd: spec.costUsd,
      priceVersion: "test",
      cacheStatus: spec.cacheHit ? "hit" : "miss",
      costSavedUsd: spec.cacheHit ? 0.1 : null,
      cacheSimilarity: null,
      firstByteMs: ok ? totalMs / 4 : null,
      totalMs,
      errorType: ok ? null : (spec.errorType ?? "UpstreamUnreachableError"),
      metadata: { prompt_label: "secret prompt text must not appear" }
    }
  })
}

const utcDay = (time: number): string => new Date(time).toISOString().slice(0, 10)

/**
 * The forecaster's forecast: the next 7 days at $0.60 each, 80% interval
 * $0.40 to $0.90, and a month projection of $19.70 against a $25 budget.
 */
const forecastBody = (now: number) => ({
  object: "fluxen.forecast",
  scope: "global",
  period: "month",
  method: "holt-winters",
  history_days: 35,
  preliminary: false,
  notes: [],
  history: [],
  forecast: Array.from({ length: 7 }, (_, index) => ({
    date: utcDay(now + (index + 1) * dayMs),
    cost_usd: 0.6,
    recorded_usd: 0,
    lower_80: 0.4,
    upper_80: 0.9,
    lower_95: 0.2,
    upper_95: 1.1
  })),
  projection: { spent_usd: 15.5, projected_usd: 19.7, lower_80: 18.3, upper_80: 21.8, lower_95: 17.1, upper_95: 23.4 },
  budgets: [
    { scope: "global", period: "month", limit_usd: 25, alert_at: [0.8], projected_fraction: 0.788, status: "within-budget", exhaustion_date: null }
  ]
})

const recommendationsBody = {
  object: "fluxen.recommendations",
  data: [
    { from: "claude-sonnet-4", to: "claude-haiku-4", why: { summary: "Short completions." }, monthly_saving_usd: 1.1, confidence: "low" },
    { from: "gpt-4.1", to: "gpt-4.1-mini", why: { summary: "p90 completion is 250 tokens." }, monthly_saving_usd: 3.2, confidence: "medium" }
  ]
}

/** The policy plugin's key list and spend reports: three budgets, the global one shared by both active keys. */
const policyResponses = {
  "/v1/fluxen/admin/keys": {
    object: "list",
    data: [
      { id: "key-alpha", revoked_at: null },
      { id: "key-beta", revoked_at: null },
      { id: "key-revoked", revoked_at: "2026-01-01T00:00:00.000Z" }
    ]
  },
  "/v1/fluxen/admin/keys/key-alpha/spend": {
    object: "fluxen.key_spend",
    key_id: "key-alpha",
    budgets: [
      { scope: "team", name: "research", period: "month", limit_usd: 20, spent_usd: 12.5, reserved_usd: 0 },
      { scope: "global", name: null, period: "day", limit_usd: 5, spent_usd: 4.5, reserved_usd: 0 }
    ]
  },
  "/v1/fluxen/admin/keys/key-beta/spend": {
    object: "fluxen.key_spend",
    key_id: "key-beta",
    budgets: [
      { scope: "global", name: null, period: "day", limit_usd: 5, spent_usd: 4.5, reserved_usd: 0 },
      { scope: "key", name: "key-beta", period: "month", limit_usd: 4, spent_usd: 5.2, reserved_usd: 0 }
    ]
  }
}

/** The forecaster's budgets: one within its limit on a short history. */
const forecastBudgetsBody = {
  object: "list",
  data: [
    {
      scope: "team:research",
      period: "week",
      limit_usd: 50,
      alert_at: [1],
      spent_usd: 10,
      projected_usd: 30,
      projected_fraction: 0.6,
      status: "within-budget",
      exhaustion_date: null,
      method: "mean",
      history_days: 3,
      preliminary: true
    }
  ]
}

const staticRoutesPluginsYaml = (now: number) => `plugins:
  - use: ${JSON.stringify(staticRoutesPluginPath)}
    config:
      routes: ["/v1/fluxen/forecast", "/v1/fluxen/forecast/budgets", "/v1/fluxen/recommendations", "/v1/fluxen/admin/keys", "/v1/fluxen/admin/keys/:id/spend"]
      responses: ${JSON.stringify({
        "/v1/fluxen/forecast": forecastBody(now),
        "/v1/fluxen/forecast/budgets": forecastBudgetsBody,
        "/v1/fluxen/recommendations": recommendationsBody,
        ...policyResponses
      })}
`

// ============================================================================
// Setup
// ============================================================================

let withPlugins: Harness
let withoutPlugins: Harness
let withoutAdminKey: Harness
let withForecaster: Harness
let browser: BrowserContext
let userDataDirectory: string
let page: Page

const insertRecords = (harness: Harness, records: ReadonlyArray<UsageRecord>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* UsageStore
      yield* store.insertBatch(records)
    }).pipe(Effect.provide(harness.gateway.running.services))
  )

const openDashboard = async (harness: Harness): Promise<Page> => {
  const opened = await browser.newPage()
  await opened.goto(`${harness.gateway.url}/dashboard?key=${encodeURIComponent(ADMIN_KEY)}`)
  await opened.waitForSelector("body[data-state]", { timeout: 15_000 })
  return opened
}

const textOf = async (selector: string, on: Page = page): Promise<string> => ((await on.textContent(selector)) ?? "").trim()

beforeAll(async () => {
  const now = Date.now()
  withPlugins = await startHarness({ pluginsYaml: staticRoutesPluginsYaml(now), extraYaml: adminYaml })
  withoutPlugins = await startHarness({ pluginsYaml: NO_PLUGINS, extraYaml: adminYaml })
  withoutAdminKey = await startHarness({ pluginsYaml: NO_PLUGINS })
  withForecaster = await startHarness({ pluginsYaml: forecasterPluginsYaml, extraYaml: adminYaml })
  await insertRecords(withPlugins, makeRecords(now))

  userDataDirectory = mkdtempSync(Path.join(tmpdir(), "fluxen-chromium-"))
  browser = await chromium.launchPersistentContext(userDataDirectory, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    viewport: { width: 1440, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
  page = await openDashboard(withPlugins)
}, 60_000)

afterAll(async () => {
  await browser?.close()
  if (userDataDirectory !== undefined) rmSync(userDataDirectory, { recursive: true, force: true })
  await withPlugins?.close()
  await withoutPlugins?.close()
  await withoutAdminKey?.close()
  await withForecaster?.close()
})

// ============================================================================
// Checks
// ============================================================================

describe("dashboard page", () => {
  it("finishes loading without an error", async () => {
    expect(await page.getAttribute("body", "data-state")).toBe("ready")
    expect(await page.isHidden("#status")).toBe(true)
  })

  it("shows the totals of the known usage", async () => {
    expect(await textOf("#total-spend")).toBe("$15.50")
    expect(await textOf("#total-requests")).toBe("18")
    expect(await textOf("#total-requests-detail")).toBe("1 error")
    expect(await textOf("#error-rate")).toBe("5.6%")
    expect(await textOf("#error-rate-detail")).toBe(
      "errors per request, cancellations excluded. 1 of 1 error was a refusal by keys, budgets or rate limits"
    )
    expect(await textOf("#cache-hit-rate")).toBe("11.1%")
    expect(await textOf("#cost-saved")).toBe("$0.20")
    expect(await textOf("#total-tokens-detail")).toBe("18,000 prompt, 4,500 completion, 0 cached")
  })

  it("counts unpriced requests", async () => {
    expect(await textOf("#total-spend-detail")).toBe("plus 1 request without a price")
  })

  it("shows nearest-rank latency percentiles", async () => {
    // 17 successful requests of 100 … 1700 ms: rank 9 is 900 ms, ranks 17 and 17 are 1700 ms.
    expect(await textOf("#latency-total")).toBe("900 ms / 1.70 s / 1.70 s")
    expect(await textOf("#latency-first-byte")).toBe("225 ms / 425 ms / 425 ms")
    expect(await textOf("#latency-total-detail")).toBe("17 successful requests")
  })

  it("ranks models, keys and teams by spend", async () => {
    const firstCells = (table: string) => page.$$eval(`${table} tbody tr td:first-child`, (cells) => cells.map((cell) => cell.textContent))
    expect(await firstCells("#top-models")).toEqual(["gpt-4.1", "claude-sonnet-4", "gpt-4o-mini", "unpriced-model"])
    expect(await firstCells("#top-keys")).toEqual(["key-alpha", "key-beta", "key-gamma"])
    expect(await firstCells("#top-teams")).toEqual(["research", "support"])
    expect(await textOf("#top-models tbody tr:first-child td:nth-child(2)")).toBe("$10.00")
    expect(await textOf("#top-models tbody tr:first-child td:nth-child(3)")).toBe("4")
    expect(await textOf("#top-teams tbody tr:first-child td:nth-child(2)")).toBe("$10.30 + unknown (1 unpriced)")
  })

  it("shows an unpriced model's cost as unknown", async () => {
    expect(await textOf("#top-models tbody tr:nth-child(4) td:nth-child(2)")).toBe("unknown (1 unpriced)")
  })

  it("draws five uPlot charts with a size", async () => {
    const canvases = await page.$$(".uplot canvas")
    expect(canvases).toHaveLength(5)
    for (const canvas of canvases) {
      const box = await canvas.boundingBox()
      expect(box?.width).toBeGreaterThan(100)
      expect(box?.height).toBeGreaterThan(100)
    }
  })

  it("draws the forecast and its interval on the spend chart", async () => {
    const legend = await textOf("#chart-spend .u-legend")
    expect(legend).toContain("Forecast")
    expect(legend).toContain("80% high")
    expect(await textOf("#forecast-note")).toBe(
      "Projected for this month: $19.70 (80% interval $18.30 to $21.80), $15.50 spent so far. " +
        "Method: holt-winters, fitted on 35 complete days. Budget $25.00: 79% projected, within budget."
    )
  })

  it("shows each budget of the active keys once", async () => {
    const budgetRows = await page.$$eval("#budgets tbody tr", (rows) => rows.map((row) => row.textContent))
    expect(budgetRows).toHaveLength(4)
    expect(budgetRows[0]).toBe("team: researchpolicymonth$12.50 of $20.0063%–")
    expect(budgetRows[1]).toBe("globalpolicyday$4.50 of $5.0090%–")
    expect(budgetRows[2]).toBe("key: key-betapolicymonth$5.20 of $4.00130%–")
    expect(await page.$$("#budgets .meter.over")).toHaveLength(1)
    expect(await page.$$("#budgets .meter.warning")).toHaveLength(1)
  })

  it("shows the forecaster's budgets", async () => {
    const budgetRows = await page.$$eval("#budgets tbody tr", (rows) => rows.map((row) => row.textContent))
    expect(budgetRows[3]).toBe("team: researchforecast alertweek$10.00 of $50.0020%$30.00, within budget (mean on 3 days, preliminary)")
  })

  it("lists recommendations by saving", async () => {
    const recommendations = await page.$$eval("#recommendations li", (items) => items.map((item) => item.textContent))
    expect(recommendations).toEqual([
      "gpt-4.1 → gpt-4.1-mini saves about $3.20 a month (medium confidence)p90 completion is 250 tokens.",
      "claude-sonnet-4 → claude-haiku-4 saves about $1.10 a month (low confidence)Short completions."
    ])
  })

  it("shows no secret or metadata", async () => {
    const html = await page.content()
    expect(html).not.toContain(ADMIN_KEY)
    expect(html).not.toContain(UPSTREAM_API_KEY)
    expect(html).not.toContain("secret prompt text")
  })

  it("saves a screenshot", async () => {
    mkdirSync(Path.dirname(screenshotPath), { recursive: true })
    const image = await page.screenshot({ path: screenshotPath, fullPage: true })
    expect(image.length).toBeGreaterThan(10_000)
  })
})

describe("dashboard without plugins", () => {
  it("says that forecast, budgets and recommendations are not enabled", async () => {
    const plain = await openDashboard(withoutPlugins)
    try {
      expect(await plain.getAttribute("body", "data-state")).toBe("ready")
      expect(await textOf("#total-requests", plain)).toBe("0")
      expect(await textOf("#forecast-note", plain)).toBe("Forecast not enabled: the forecaster plugin is not loaded.")
      expect(await textOf("#budgets", plain)).toBe("Not enabled: neither the policy plugin nor the forecaster plugin is loaded.")
      expect(await textOf("#recommendations", plain)).toBe("Not enabled: the forecaster plugin is not loaded.")
      expect(await plain.$$(".uplot canvas")).toHaveLength(5)
    } finally {
      await plain.close()
    }
  })
})

describe("dashboard with the forecaster on an empty table", () => {
  it("shows the projection without an interval", async () => {
    const fresh = await openDashboard(withForecaster)
    try {
      expect(await fresh.getAttribute("body", "data-state")).toBe("ready")
      const note = await textOf("#forecast-note", fresh)
      expect(note).toContain("Projected for this month: $0.00, $0.00 spent so far. Method: none, fitted on 0 complete days.")
      expect(note).toContain("The history of 0 complete days is too short to estimate an interval.")
      expect(note).toContain("The forecast is preliminary")
      const budgetRows = await fresh.$$eval("#budgets tbody tr", (rows) => rows.map((row) => row.textContent))
      expect(budgetRows).toEqual(["globalforecast alertmonth$0.00 of $100.000%$0.00, within budget (none on 0 days, preliminary)"])
    } finally {
      await fresh.close()
    }
  })
})

describe("dashboard admin key", () => {
  const statusOf = async (harness: Harness, path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${harness.gateway.url}${path}`, { headers })
    await response.arrayBuffer()
    return response.status
  }

  it("rejects the page without a key", async () => {
    expect(await statusOf(withPlugins, "/dashboard")).toBe(401)
  })

  it("rejects the page with a wrong key", async () => {
    expect(await statusOf(withPlugins, "/dashboard?key=wrong-key")).toBe(401)
    expect(await statusOf(withPlugins, "/dashboard", { authorization: "Bearer wrong-key" })).toBe(401)
  })

  it("accepts the key as a bearer token", async () => {
    expect(await statusOf(withPlugins, "/dashboard", { authorization: `Bearer ${ADMIN_KEY}` })).toBe(200)
    expect(await statusOf(withPlugins, "/v1/fluxen/dashboard-data", { authorization: `Bearer ${ADMIN_KEY}` })).toBe(200)
  })

  it("rejects the data route without a key", async () => {
    expect(await statusOf(withPlugins, "/v1/fluxen/dashboard-data")).toBe(401)
  })

  it("rejects an invalid day count", async () => {
    expect(await statusOf(withPlugins, `/v1/fluxen/dashboard-data?days=0&key=${ADMIN_KEY}`)).toBe(400)
  })

  it("serves the assets without a key", async () => {
    expect(await statusOf(withPlugins, "/dashboard/assets/uPlot.iife.min.js")).toBe(200)
    expect(await statusOf(withPlugins, "/dashboard/assets/main.js")).toBe(200)
    expect(await statusOf(withPlugins, "/dashboard/assets/..%2Fpackage.json")).toBe(404)
  })

  it("is disabled without admin.key in the configuration", async () => {
    const response = await fetch(`${withoutAdminKey.gateway.url}/dashboard?key=${ADMIN_KEY}`)
    expect(response.status).toBe(401)
    const body = (await response.json()) as { error: { message: string } }
    expect(body.error.message).toContain("set admin.key")
  })
})
