import * as SqlClient from "@effect/sql/SqlClient"
import * as Statement from "@effect/sql/Statement"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runUsageMigrations } from "./migrations.js"
import { UsageDatabase } from "./UsageDatabase.js"
import type { UsageRecord } from "./UsageRecord.js"
import { usageColumns } from "./UsageRow.js"
import { UsageStore } from "./UsageStore.js"
import { nullGroupLabel, type UsageTotal } from "./usageTotals.js"
import {
  captureLogs,
  clearUsage,
  countUsage,
  layerUsageTestDatabase,
  makeUsageRecord,
  TestDatabaseOptions,
  usageTestDatabases
} from "./UsageTesting.js"

const from = new Date("2025-03-01T00:00:00.000Z")
const to = new Date("2025-03-03T00:00:00.000Z")

// Six records in [from, to) plus one on each side of the range. The expected totals below are
// summed by hand from these rows.
const fixture: ReadonlyArray<UsageRecord> = [
  makeUsageRecord({
    requestId: "r1",
    createdAt: new Date("2025-03-01T10:00:00.000Z"),
    keyId: "key_a",
    team: "team_a",
    requestedModel: "fast",
    resolvedModel: "gpt-4o",
    provider: "openai",
    promptTokens: 100,
    completionTokens: 20,
    cachedInputTokens: 10,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.0015,
    cacheStatus: "miss",
    costSavedUsd: null
  }),
  makeUsageRecord({
    requestId: "r2",
    createdAt: new Date("2025-03-01T23:59:59.999Z"),
    keyId: "key_a",
    team: "team_a",
    requestedModel: "gpt-4o",
    resolvedModel: "gpt-4o",
    provider: "openai",
    promptTokens: 200,
    completionTokens: 50,
    cachedInputTokens: 0,
    cacheWriteTokens: 5,
    reasoningTokens: 7,
    costUsd: 0.0025,
    cacheStatus: "hit",
    costSavedUsd: 0.003
  }),
  makeUsageRecord({
    requestId: "r3",
    createdAt: new Date("2025-03-02T00:00:00.000Z"),
    keyId: "key_b",
    team: "team_b",
    requestedModel: "claude",
    resolvedModel: "claude-sonnet-4",
    provider: "anthropic",
    endpoint: "messages",
    status: "error",
    httpStatus: 502,
    promptTokens: null,
    completionTokens: null,
    cachedInputTokens: null,
    cacheWriteTokens: null,
    cacheWrite1hTokens: null,
    reasoningTokens: null,
    // No provider sent a success response, so the pipeline records a cost of 0.
    costUsd: 0,
    cacheStatus: null,
    errorType: "upstream_error"
  }),
  makeUsageRecord({
    requestId: "r4",
    createdAt: new Date("2025-03-02T12:00:00.000Z"),
    keyId: "key_b",
    team: null,
    requestedModel: "claude",
    resolvedModel: "claude-sonnet-4",
    provider: "anthropic",
    endpoint: "messages",
    stream: true,
    promptTokens: 1000,
    completionTokens: 300,
    cachedInputTokens: 400,
    cacheWriteTokens: 100,
    cacheWrite1hTokens: 60,
    reasoningTokens: 50,
    costUsd: null,
    cacheStatus: "semantic-hit",
    costSavedUsd: 0.01
  }),
  makeUsageRecord({
    requestId: "r5",
    createdAt: new Date("2025-03-02T13:00:00.000Z"),
    keyId: null,
    team: null,
    requestedModel: "gpt-4o",
    resolvedModel: null,
    provider: null,
    status: "cancelled",
    httpStatus: 499,
    promptTokens: null,
    completionTokens: null,
    cachedInputTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    costUsd: 0,
    cacheStatus: null
  }),
  makeUsageRecord({ requestId: "before-range", createdAt: new Date("2025-02-28T23:59:59.999Z"), costUsd: 100 }),
  makeUsageRecord({ requestId: "at-range-end", createdAt: to, costUsd: 100 })
]

const emptyTotal = {
  requests: 0,
  promptTokens: 0,
  completionTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  unknownCostRequests: 0,
  errors: 0,
  refused: 0,
  cancelled: 0,
  estimatedUsageRequests: 0,
  cacheHits: 0,
  costSavedUsd: 0
}

const r1Total = {
  ...emptyTotal,
  requests: 1,
  promptTokens: 100,
  completionTokens: 20,
  cachedInputTokens: 10,
  costUsd: 0.0015
}

const r2Total = {
  ...emptyTotal,
  requests: 1,
  promptTokens: 200,
  completionTokens: 50,
  cacheWriteTokens: 5,
  reasoningTokens: 7,
  costUsd: 0.0025,
  cacheHits: 1,
  costSavedUsd: 0.003
}

const r4Total = {
  ...emptyTotal,
  requests: 1,
  promptTokens: 1000,
  completionTokens: 300,
  cachedInputTokens: 400,
  cacheWriteTokens: 100,
  cacheWrite1hTokens: 60,
  reasoningTokens: 50,
  unknownCostRequests: 1,
  cacheHits: 1,
  costSavedUsd: 0.01
}

// r1 + r2
const openAiTotal = {
  requests: 2,
  promptTokens: 300,
  completionTokens: 70,
  cachedInputTokens: 10,
  cacheWriteTokens: 5,
  cacheWrite1hTokens: 0,
  reasoningTokens: 7,
  costUsd: 0.004,
  unknownCostRequests: 0,
  errors: 0,
  refused: 0,
  cancelled: 0,
  estimatedUsageRequests: 0,
  cacheHits: 1,
  costSavedUsd: 0.003
}

// r3 + r4
const anthropicTotal = {
  requests: 2,
  promptTokens: 1000,
  completionTokens: 300,
  cachedInputTokens: 400,
  cacheWriteTokens: 100,
  cacheWrite1hTokens: 60,
  reasoningTokens: 50,
  costUsd: 0,
  // r4 only, because r3 failed.
  unknownCostRequests: 1,
  errors: 1,
  refused: 0,
  cancelled: 0,
  estimatedUsageRequests: 0,
  cacheHits: 1,
  costSavedUsd: 0.01
}

// r5
const cancelledTotal = { ...emptyTotal, requests: 1, cancelled: 1 }

// Batch sizes on both sides of the store's INSERT sizes, which are powers of two up to 256 rows
// on SQLite and up to 2,048 rows on PostgreSQL.
const batchSizes = [1, 3, 127, 128, 129, 255, 256, 257, 500, 1000]

const batchRange = { from: new Date("2025-06-01T00:00:00.000Z"), to: new Date("2025-07-01T00:00:00.000Z") }

// Builds record `index` of a batch. Its id, creation time, key id and counts all contain the
// index, so a row whose values were bound under another row's id fails the comparison.
const indexedRecord = (prefix: string, index: number): UsageRecord =>
  makeUsageRecord({
    requestId: `${prefix}-${String(index).padStart(4, "0")}`,
    createdAt: new Date(batchRange.from.getTime() + index * 1000),
    keyId: `key-${index}`,
    promptTokens: index,
    totalMs: index + 1
  })

const indexedBatch = (prefix: string, size: number): Array<UsageRecord> =>
  Array.from({ length: size }, (_, index) => indexedRecord(prefix, index))

// Lists the records of `batchRange` in insert order (the store lists newest first).
const listBatch = Effect.flatMap(UsageStore, (store) => store.list({ ...batchRange, limit: 5000 })).pipe(
  Effect.map((records) => [...records].reverse())
)

// Compares field by field so that a failure names the group and the field. Money sums are
// compared to 12 decimal places because SQLite adds them as doubles.
const expectTotals = (actual: ReadonlyArray<UsageTotal>, expected: ReadonlyArray<UsageTotal>) => {
  expect(actual.map((total) => total.group)).toEqual(expected.map((total) => total.group))
  actual.forEach((total, index) => {
    const expectedTotal = expected[index]!
    for (const field of Object.keys(emptyTotal) as Array<keyof typeof emptyTotal>) {
      if (field === "costUsd" || field === "costSavedUsd") {
        expect(total[field], `${total.group}.${field}`).toBeCloseTo(expectedTotal[field], 12)
      } else {
        expect(total[field], `${total.group}.${field}`).toBe(expectedTotal[field])
      }
    }
  })
}

for (const database of usageTestDatabases) {
  layer(layerUsageTestDatabase(database), { timeout: "30 seconds" })(`UsageStore on ${database.name}`, (it) => {
    it.effect("migrations rerun as a no-op", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const store = yield* UsageStore
        const options = yield* TestDatabaseOptions
        yield* clearUsage
        yield* store.insertBatch([makeUsageRecord({ requestId: "kept" })])

        const applied = yield* runUsageMigrations
        yield* Effect.scoped(Layer.build(UsageDatabase.layer(options)))

        expect(applied).toEqual([])
        const migrations = yield* sql`SELECT migration_id, name FROM fluxen_usage_migrations`
        expect(migrations).toEqual([
          { migration_id: 1, name: "create_usage_table" },
          { migration_id: 2, name: "add_cache_similarity" },
          { migration_id: 3, name: "add_cache_write_1h_tokens" }
        ])
        expect(yield* countUsage).toBe(1)
      }))

    it.effect("totals by model", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "model" })

        expectTotals(totals, [
          { group: "claude-sonnet-4", ...anthropicTotal },
          // r5 failed before routing, so it counts under its requested model.
          {
            group: "gpt-4o",
            ...openAiTotal,
            requests: 3,
            cancelled: 1
          }
        ])
      }))

    it.effect("totals by model without one", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        // The pipeline stores an empty requested model when the body named none, such as a body that is not JSON.
        yield* store.insertBatch([
          makeUsageRecord({ requestId: "no-model", requestedModel: "", resolvedModel: null, provider: null }),
          makeUsageRecord({ requestId: "named", requestedModel: "gpt-4o", resolvedModel: null, provider: null })
        ])

        const totals = yield* store.totals({ from, to, groupBy: "model" })

        expect(totals.map((total) => [total.group, total.requests])).toEqual([
          [nullGroupLabel, 1],
          ["gpt-4o", 1]
        ])
      }))

    it.effect("totals by key, provider and team", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const byKey = yield* store.totals({ from, to, groupBy: "key" })
        const byProvider = yield* store.totals({ from, to, groupBy: "provider" })
        const byTeam = yield* store.totals({ from, to, groupBy: "team" })

        expectTotals(byKey, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "key_a", ...openAiTotal },
          { group: "key_b", ...anthropicTotal }
        ])
        expectTotals(byProvider, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "anthropic", ...anthropicTotal },
          { group: "openai", ...openAiTotal }
        ])
        expectTotals(byTeam, [
          // r4 + r5
          {
            group: nullGroupLabel,
            ...emptyTotal,
            requests: 2,
            promptTokens: 1000,
            completionTokens: 300,
            cachedInputTokens: 400,
            cacheWriteTokens: 100,
            cacheWrite1hTokens: 60,
            reasoningTokens: 50,
            unknownCostRequests: 1,
            cancelled: 1,
            cacheHits: 1,
            costSavedUsd: 0.01
          },
          { group: "team_a", ...openAiTotal },
          // r3
          { group: "team_b", ...emptyTotal, requests: 1, errors: 1 }
        ])
      }))

    it.effect("totals by UTC day", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "day" })

        expectTotals(totals, [
          { group: "2025-03-01", ...openAiTotal },
          // r3 + r4 + r5
          { group: "2025-03-02", ...anthropicTotal, requests: 3, cancelled: 1 }
        ])
      }))

    it.effect("totals by requested and resolved model", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const byRequested = yield* store.totals({ from, to, groupBy: "requested_model" })
        const byResolved = yield* store.totals({ from, to, groupBy: "resolved_model" })

        expectTotals(byRequested, [
          { group: "claude", ...anthropicTotal },
          { group: "fast", ...r1Total },
          // r2 + r5
          { group: "gpt-4o", ...r2Total, requests: 2, cancelled: 1 }
        ])
        expectTotals(byResolved, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "claude-sonnet-4", ...anthropicTotal },
          { group: "gpt-4o", ...openAiTotal }
        ])
      }))

    it.effect("totals by requested model without one", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch([makeUsageRecord({ requestId: "no-model", requestedModel: "", resolvedModel: null, provider: null })])

        const totals = yield* store.totals({ from, to, groupBy: "requested_model" })

        expect(totals.map((total) => total.group)).toEqual([nullGroupLabel])
      }))

    it.effect("totals by endpoint and status", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const byEndpoint = yield* store.totals({ from, to, groupBy: "endpoint" })
        const byStatus = yield* store.totals({ from, to, groupBy: "status" })

        expectTotals(byEndpoint, [
          // r1 + r2 + r5
          { group: "chat", ...openAiTotal, requests: 3, cancelled: 1 },
          { group: "messages", ...anthropicTotal }
        ])
        expectTotals(byStatus, [
          { group: "cancelled", ...cancelledTotal },
          // r3
          { group: "error", ...emptyTotal, requests: 1, errors: 1 },
          // r1 + r2 + r4
          {
            group: "ok",
            ...emptyTotal,
            requests: 3,
            promptTokens: 1300,
            completionTokens: 370,
            cachedInputTokens: 410,
            cacheWriteTokens: 105,
            cacheWrite1hTokens: 60,
            reasoningTokens: 57,
            costUsd: 0.004,
            unknownCostRequests: 1,
            cacheHits: 2,
            costSavedUsd: 0.013
          }
        ])
      }))

    it.effect("refused counts policy refusals", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        // Three refusals by policy, two failures that are not refusals, a success, and a
        // cancelled request whose error type is a refusal's but whose status is not `error`.
        yield* store.insertBatch([
          makeUsageRecord({ requestId: "no-key", keyId: null, status: "error", httpStatus: 401, errorType: "AuthenticationError" }),
          makeUsageRecord({ requestId: "model-denied", status: "error", httpStatus: 403, errorType: "PermissionDeniedError" }),
          makeUsageRecord({ requestId: "over-budget", status: "error", httpStatus: 429, errorType: "LimitExceededError" }),
          makeUsageRecord({ requestId: "upstream-429", status: "error", httpStatus: 429, errorType: "UpstreamHttpError" }),
          makeUsageRecord({ requestId: "no-error-type", status: "error", httpStatus: 500, errorType: null }),
          makeUsageRecord({ requestId: "ok", errorType: null }),
          makeUsageRecord({ requestId: "cancelled-with-type", status: "cancelled", httpStatus: 499, errorType: "LimitExceededError" })
        ])

        const byStatus = yield* store.totals({ from, to, groupBy: "status" })
        const byKey = yield* store.totals({ from, to, groupBy: "key" })

        expect(byStatus.map((total) => [total.group, total.errors, total.refused])).toEqual([
          ["cancelled", 0, 0],
          ["error", 5, 3],
          ["ok", 0, 0]
        ])
        const noKey = byKey.find((total) => total.group === nullGroupLabel)
        expect(noKey?.refused).toBe(1)
        expect(byKey.reduce((sum, total) => sum + total.refused, 0)).toBe(3)
      }))

    it.effect("cancelled and estimated counts", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        // A stream that the client cancelled after some text gets estimated tokens, and one
        // cancelled before any text gets none.
        yield* store.insertBatch([
          makeUsageRecord({ requestId: "estimated", usageEstimated: true }),
          makeUsageRecord({ requestId: "cut-off", status: "cancelled", httpStatus: 499, stream: true, usageEstimated: true }),
          makeUsageRecord({ requestId: "cut-early", status: "cancelled", httpStatus: 499, stream: true, promptTokens: null, completionTokens: null }),
          makeUsageRecord({ requestId: "failed", status: "error", httpStatus: 502, promptTokens: null, completionTokens: null })
        ])

        const totals = yield* store.totals({ from, to, groupBy: "key" })

        expect(totals).toHaveLength(1)
        expect(totals[0]!.requests).toBe(4)
        expect(totals[0]!.errors).toBe(1)
        expect(totals[0]!.cancelled).toBe(2)
        expect(totals[0]!.estimatedUsageRequests).toBe(2)
        expect(totals[0]!.promptTokens).toBe(200)
      }))

    it.effect("totals filtered by model", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "key", filters: { model: "gpt-4o" } })

        // r5 failed before routing, so its requested model matches, as in the totals by model.
        expectTotals(totals, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "key_a", ...openAiTotal }
        ])
      }))

    it.effect("totals filtered by requested model", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const named = yield* store.totals({ from, to, groupBy: "resolved_model", filters: { requested_model: "gpt-4o" } })
        const alias = yield* store.totals({ from, to, groupBy: "model", filters: { requested_model: "fast" } })
        const both = yield* store.totals({ from, to, groupBy: "key", filters: { model: "gpt-4o", requested_model: "gpt-4o" } })

        // r2 and r5 named gpt-4o. r1 was served by gpt-4o but named the alias fast, so only the alias selects it.
        expectTotals(named, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "gpt-4o", ...r2Total }
        ])
        expectTotals(alias, [{ group: "gpt-4o", ...r1Total }])
        expectTotals(both, [
          { group: nullGroupLabel, ...cancelledTotal },
          { group: "key_a", ...r2Total }
        ])
      }))

    it.effect("requested model filter by (none)", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch([
          makeUsageRecord({ requestId: "no-model", requestedModel: "", resolvedModel: null, provider: null }),
          makeUsageRecord({ requestId: "named", requestedModel: "gpt-4o", resolvedModel: null, provider: null })
        ])

        const totals = yield* store.totals({ from, to, groupBy: "status", filters: { requested_model: nullGroupLabel } })

        expect(totals.map((total) => [total.group, total.requests])).toEqual([["ok", 1]])
      }))

    it.effect("totals filtered by key and team", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "model", filters: { key: "key_b", team: "team_b" } })

        // r3, because r4 has key_b but no team.
        expectTotals(totals, [{ group: "claude-sonnet-4", ...emptyTotal, requests: 1, errors: 1 }])
      }))

    it.effect("filter by (none) selects missing values", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "status", filters: { team: nullGroupLabel } })

        expectTotals(totals, [
          { group: "cancelled", ...cancelledTotal },
          { group: "ok", ...r4Total }
        ])
      }))

    it.effect("filter without a match", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from, to, groupBy: "model", filters: { model: "gpt-4o-2024-08-06" } })

        expect(totals).toEqual([])
      }))

    it.effect("totals of an empty range", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const totals = yield* store.totals({ from: new Date("2024-01-01T00:00:00Z"), to: new Date("2024-02-01T00:00:00Z"), groupBy: "model" })

        expect(totals).toEqual([])
      }))

    it.effect("null cost counts as unknown", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch([
          makeUsageRecord({ requestId: "known", costUsd: 0.25 }),
          makeUsageRecord({ requestId: "free", costUsd: 0 }),
          makeUsageRecord({ requestId: "unknown-1", costUsd: null }),
          makeUsageRecord({ requestId: "unknown-2", costUsd: null })
        ])

        const totals = yield* store.totals({ from, to, groupBy: "key" })

        expect(totals).toHaveLength(1)
        expect(totals[0]!.requests).toBe(4)
        expect(totals[0]!.costUsd).toBeCloseTo(0.25, 12)
        expect(totals[0]!.unknownCostRequests).toBe(2)
      }))

    it.effect("failed request priced 0 is known", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch([
          // No provider sent a success response, so the pipeline records a cost of 0.
          makeUsageRecord({ requestId: "rejected", status: "error", costUsd: 0 }),
          // A provider started the stream before it failed, and the model has no price.
          makeUsageRecord({ requestId: "cut-off", status: "error", costUsd: null }),
          makeUsageRecord({ requestId: "stopped", status: "cancelled", costUsd: null })
        ])

        const totals = yield* store.totals({ from, to, groupBy: "key" })

        expect(totals[0]!.requests).toBe(3)
        expect(totals[0]!.unknownCostRequests).toBe(2)
      }))

    it.effect("list round-trips every field", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        const full = makeUsageRecord({
          requestId: "full",
          createdAt: new Date("2025-03-01T08:30:15.123Z"),
          endpoint: "responses",
          stream: true,
          promptTokens: 12_345_678_901,
          completionTokens: 2,
          cachedInputTokens: 3,
          cacheWriteTokens: 4,
          cacheWrite1hTokens: 1,
          reasoningTokens: 5,
          usageEstimated: true,
          costUsd: 0.000123456789,
          cacheStatus: "semantic-hit",
          costSavedUsd: 1.5,
          firstByteMs: 0,
          totalMs: 98_765,
          errorType: null,
          metadata: { user: "alice", note: "quote \" and ünïcödé ✓", empty: "" }
        })
        const sparse = makeUsageRecord({
          requestId: "sparse",
          createdAt: new Date("2025-03-01T08:30:15.122Z"),
          keyId: null,
          team: null,
          resolvedModel: null,
          provider: null,
          status: "error",
          httpStatus: 429,
          promptTokens: null,
          completionTokens: null,
          cachedInputTokens: null,
          cacheWriteTokens: null,
          cacheWrite1hTokens: null,
          reasoningTokens: null,
          costUsd: null,
          priceVersion: null,
          cacheStatus: null,
          costSavedUsd: null,
          firstByteMs: null,
          errorType: "rate_limited",
          metadata: null
        })
        yield* store.insertBatch([sparse, full])

        const records = yield* store.list({ from, to, limit: 10 })

        expect(records).toEqual([full, sparse])
      }))

    it.effect("list applies the limit", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        yield* store.insertBatch(fixture)

        const records = yield* store.list({ from, to, limit: 2 })

        expect(records.map((record) => record.requestId)).toEqual(["r5", "r4"])
      }))

    it.effect("duplicate request id keeps the first record", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        const { layer: logLayer, logs } = captureLogs()
        yield* clearUsage

        yield* store.insertBatch([makeUsageRecord({ requestId: "same", costUsd: 1 })])
        yield* store
          .insertBatch([makeUsageRecord({ requestId: "same", costUsd: 2 }), makeUsageRecord({ requestId: "other" })])
          .pipe(Effect.provide(logLayer))

        const records = yield* store.list({ from, to, limit: 10 })
        expect(records.map((record) => [record.requestId, record.costUsd])).toEqual([
          ["other", 0.001],
          ["same", 1]
        ])
        expect(logs.some((log) => log.level === "WARN" && log.message.includes("Ignored 1 usage records"))).toBe(true)
      }))

    it.effect("insertBatch splits large batches", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        // 3,000 rows of 26 columns exceed the bound-parameter limit of one statement on both
        // databases (32,766 on SQLite, 65,535 on PostgreSQL).
        const records = Array.from({ length: 3000 }, (_, index) => makeUsageRecord({ requestId: `bulk-${index}` }))

        yield* store.insertBatch(records)

        expect(yield* countUsage).toBe(3000)
      }))

    for (const size of batchSizes) {
      it.effect(`insertBatch stores a batch of ${size}`, () =>
        Effect.gen(function* () {
          const store = yield* UsageStore
          yield* clearUsage
          const { layer: logLayer, logs } = captureLogs()
          const batch = indexedBatch(`size${size}`, size)

          yield* store.insertBatch(batch).pipe(Effect.provide(logLayer))

          expect(logs.filter((log) => log.level === "WARN")).toEqual([])
          expect(yield* countUsage).toBe(size)
          const stored = yield* listBatch
          expect(stored.map((record) => record.requestId)).toEqual(batch.map((record) => record.requestId))
          expect(stored).toEqual(batch)
        }))
    }

    it.effect("insertBatch ignores duplicates across INSERTs", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        const { layer: logLayer, logs } = captureLogs()
        yield* clearUsage
        yield* store.insertBatch([indexedRecord("dup", 5)])
        // On SQLite the 300 rows go into INSERTs of 256, 32, 8 and 4 rows, so the last row
        // repeats the id of the first one in a later statement.
        const batch = indexedBatch("dup", 300)
        batch[299] = { ...batch[299]!, requestId: batch[0]!.requestId }

        yield* store.insertBatch(batch).pipe(Effect.provide(logLayer))

        expect(yield* countUsage).toBe(299)
        const stored = yield* listBatch
        expect(stored).toEqual(batch.slice(0, 299))
        const warnings = logs.filter((log) => log.level === "WARN").map((log) => log.message)
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("Ignored 2 usage records")
      }))

    it.effect("insertBatch skips invalid records between INSERTs", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        const { layer: logLayer, logs } = captureLogs()
        yield* clearUsage
        const batch = indexedBatch("mixed", 260)
        const invalidIndexes = [0, 128, 255, 259]
        for (const index of invalidIndexes) {
          batch[index] = { ...batch[index]!, httpStatus: 1000 }
        }

        yield* store.insertBatch(batch).pipe(Effect.provide(logLayer))

        const valid = batch.filter((_, index) => !invalidIndexes.includes(index))
        expect(yield* countUsage).toBe(256)
        expect(yield* listBatch).toEqual(valid)
        const warnings = logs.filter((log) => log.level === "WARN").map((log) => log.message)
        expect(warnings).toEqual(["Skipped 4 invalid usage records and stored the others"])
      }))

    it.effect("insertBatch plans INSERTs per dialect", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        yield* clearUsage
        const insertTexts: Array<string> = []
        let boundRows = 0
        const captureInserts: Statement.Statement.Transformer = (statement) =>
          Effect.sync(() => {
            const [text, params] = statement.compile()
            if (text.startsWith("INSERT INTO fluxen_usage")) {
              insertTexts.push(text)
              boundRows += params.length / usageColumns.length
            }
            return statement
          })
        const sizes = [...Array.from({ length: 70 }, (_, index) => index + 1), 127, 129, 255, 257, 500, 1000]

        for (const size of sizes) {
          yield* store.insertBatch(indexedBatch(`texts${size}`, size)).pipe(Statement.withTransformer(captureInserts))
        }

        const total = sizes.reduce((sum, size) => sum + size, 0)
        expect(yield* countUsage).toBe(total)
        if (database.name === "SQLite") {
          // The Node driver's SqliteBatchInserter runs the INSERTs, past the SqlClient.
          expect(insertTexts).toEqual([])
          return
        }
        expect(boundRows).toBe(total)
        if (database.name === "SQLite through the SqlClient") {
          // Powers of two from 1 to 256 rows.
          expect(new Set(insertTexts).size).toBe(9)
        } else {
          // One INSERT per batch, because no batch exceeds 2,048 rows.
          expect(insertTexts).toHaveLength(sizes.length)
        }
      }))

    it.effect("insertBatch cleans NUL and skips invalid records", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        const { layer: logLayer, logs } = captureLogs()
        yield* clearUsage

        yield* store
          .insertBatch([
            makeUsageRecord({ requestId: "nul", requestedModel: "gpt\u0000x", metadata: { "k\u0000": "v\u0000" } }),
            makeUsageRecord({ requestId: "bad-date", createdAt: new Date(Number.NaN) }),
            makeUsageRecord({ requestId: "fractional", promptTokens: 10.6, totalMs: 12.4, costUsd: Number.NaN })
          ])
          .pipe(Effect.provide(logLayer))

        const records = yield* store.list({ from, to, limit: 10 })
        const byId = new Map(records.map((record) => [record.requestId, record]))
        expect([...byId.keys()].sort()).toEqual(["fractional", "nul"])
        expect(byId.get("nul")?.requestedModel).toBe("gpt\uFFFDx")
        expect(byId.get("nul")?.metadata).toEqual({ "k\uFFFD": "v\uFFFD" })
        expect(byId.get("fractional")?.promptTokens).toBe(11)
        expect(byId.get("fractional")?.totalMs).toBe(12)
        expect(byId.get("fractional")?.costUsd).toBeNull()
        expect(logs.some((log) => log.level === "WARN" && log.message.includes("Skipped 1 invalid usage records"))).toBe(true)
      }))
  })
}
