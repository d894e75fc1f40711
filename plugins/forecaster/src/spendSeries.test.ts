import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { makeSpendSeriesReader, type DailySpend } from "./spendSeries.js"
import { parseSpendScope, type SpendScope } from "./SpendScope.js"
import { layerTestUsageDatabase, makeUsageRecord, testDialects, TestUsageDatabase } from "./testing/usageDatabase.js"

const at = (iso: string) => new Date(iso)

// Costs are exact in binary floating point, so the sums compare with toEqual.
const records = [
  makeUsageRecord({ requestId: "r1", createdAt: at("2025-03-01T00:00:00.000Z"), keyId: "key_a", team: "team_a", requestedModel: "gpt-4o", resolvedModel: "gpt-4o-2024-08-06", costUsd: 0.5 }),
  makeUsageRecord({ requestId: "r2", createdAt: at("2025-03-01T23:59:59.999Z"), keyId: "key_a", team: "team_b", requestedModel: "fast", resolvedModel: "gpt-4o-mini", costUsd: 0.25 }),
  makeUsageRecord({ requestId: "r3", createdAt: at("2025-03-02T10:00:00.000Z"), keyId: "key_b", team: "team_a", requestedModel: "gpt-4o-mini", resolvedModel: "gpt-4o-mini", costUsd: null }),
  makeUsageRecord({ requestId: "r4", createdAt: at("2025-03-04T05:00:00.000Z"), keyId: "key_b", team: "team_b", requestedModel: "gpt-4o", resolvedModel: "gpt-4o-2024-08-06", status: "error", httpStatus: 502, costUsd: null }),
  makeUsageRecord({ requestId: "r5", createdAt: at("2025-03-04T06:00:00.000Z"), keyId: null, team: null, requestedModel: "gpt-4o", resolvedModel: "gpt-4o-2024-08-06", costUsd: 1.125 }),
  // A body that was not JSON: no key, team or model, and no provider call, so it costs 0.
  makeUsageRecord({ requestId: "r8", createdAt: at("2025-03-03T08:00:00.000Z"), keyId: null, team: null, requestedModel: "", resolvedModel: null, provider: null, status: "error", httpStatus: 400, costUsd: 0 }),
  // Just outside [March 1, March 5).
  makeUsageRecord({ requestId: "r6", createdAt: at("2025-02-28T23:59:59.999Z"), keyId: "key_a", costUsd: 7 }),
  makeUsageRecord({ requestId: "r7", createdAt: at("2025-03-05T00:00:00.000Z"), keyId: "key_a", costUsd: 9 })
]

const FROM = Date.parse("2025-03-01T00:00:00.000Z")
const TO = Date.parse("2025-03-05T00:00:00.000Z")

const days = (values: ReadonlyArray<readonly [cost: number, requests: number, unpriced: number]>): ReadonlyArray<DailySpend> =>
  values.map(([costUsd, requests, unpricedRequests], index) => ({
    date: `2025-03-0${index + 1}`,
    costUsd,
    requests,
    unpricedRequests
  }))

const scope = (text: string): SpendScope => Either.getOrThrow(parseSpendScope(text))

const expectations: ReadonlyArray<{ readonly scope: string; readonly expected: ReadonlyArray<DailySpend> }> = [
  { scope: "global", expected: days([[0.75, 2, 0], [0, 1, 1], [0, 1, 0], [1.125, 2, 1]]) },
  { scope: "key:key_a", expected: days([[0.75, 2, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]) },
  { scope: "key:key_b", expected: days([[0, 0, 0], [0, 1, 1], [0, 0, 0], [0, 1, 1]]) },
  // (none) selects the records without a value, as the usage API's filters do.
  { scope: "key:(none)", expected: days([[0, 0, 0], [0, 0, 0], [0, 1, 0], [1.125, 1, 0]]) },
  { scope: "team:team_a", expected: days([[0.5, 1, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]]) },
  { scope: "team:team_b", expected: days([[0.25, 1, 0], [0, 0, 0], [0, 0, 0], [0, 1, 1]]) },
  { scope: "team:(none)", expected: days([[0, 0, 0], [0, 0, 0], [0, 1, 0], [1.125, 1, 0]]) },
  // A model scope matches the requested or the resolved model.
  { scope: "model:gpt-4o", expected: days([[0.5, 1, 0], [0, 0, 0], [0, 0, 0], [1.125, 2, 1]]) },
  { scope: "model:gpt-4o-2024-08-06", expected: days([[0.5, 1, 0], [0, 0, 0], [0, 0, 0], [1.125, 2, 1]]) },
  { scope: "model:gpt-4o-mini", expected: days([[0.25, 1, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]]) },
  { scope: "model:fast", expected: days([[0.25, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]) },
  { scope: "model:(none)", expected: days([[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]]) },
  // A requested model scope matches only the model the client named.
  { scope: "requested_model:gpt-4o-mini", expected: days([[0, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]]) },
  { scope: "requested_model:fast", expected: days([[0.25, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]) },
  { scope: "requested_model:gpt-4o-2024-08-06", expected: days([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]) },
  { scope: "requested_model:(none)", expected: days([[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]]) },
  { scope: "key:nobody", expected: days([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]) }
]

for (const dialect of testDialects) {
  const seeded = Layer.effectDiscard(Effect.flatMap(TestUsageDatabase, (database) => database.insert(records)))

  layer(seeded.pipe(Layer.provideMerge(layerTestUsageDatabase(dialect))))(`daily spend on ${dialect}`, (it) => {
    for (const { scope: text, expected } of expectations) {
      it.effect(`sums ${text} per UTC day`, () =>
        Effect.gen(function* () {
          const reader = yield* makeSpendSeriesReader

          const series = yield* reader.dailySpend(scope(text), FROM, TO)

          expect(series).toEqual(expected)
        })
      )
    }

    it.effect("stops at the end time within a day", () =>
      Effect.gen(function* () {
        const reader = yield* makeSpendSeriesReader

        const series = yield* reader.dailySpend(scope("global"), FROM, Date.parse("2025-03-04T05:30:00.000Z"))

        expect(series).toEqual(days([[0.75, 2, 0], [0, 1, 1], [0, 1, 0], [0, 1, 1]]))
      })
    )

    it.effect("starts at the UTC day of the start time", () =>
      Effect.gen(function* () {
        const reader = yield* makeSpendSeriesReader

        const series = yield* reader.dailySpend(scope("key:key_a"), Date.parse("2025-02-28T00:00:00.000Z"), FROM)

        expect(series).toEqual([{ date: "2025-02-28", costUsd: 7, requests: 1, unpricedRequests: 0 }])
      })
    )
  })
}

describe("parseSpendScope", () => {
  it("reads each scope kind", () => {
    expect(parseSpendScope("global")).toEqual(Either.right({ kind: "global" }))
    expect(parseSpendScope("key:static:alice")).toEqual(Either.right({ kind: "key", name: "static:alice" }))
    expect(parseSpendScope("team:search")).toEqual(Either.right({ kind: "team", name: "search" }))
    expect(parseSpendScope("model:gpt-4o")).toEqual(Either.right({ kind: "model", name: "gpt-4o" }))
    expect(parseSpendScope("requested_model:fast")).toEqual(Either.right({ kind: "requested_model", name: "fast" }))
    expect(parseSpendScope("team:(none)")).toEqual(Either.right({ kind: "team", name: "(none)" }))
  })

  it.each(["", "global:x", "user:bob", "team:", "team", "requested_model:", "resolved_model:gpt-4o"])("rejects %j", (text) => {
    expect(Either.isLeft(parseSpendScope(text))).toBe(true)
  })
})
