import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import { gcraCorrect, gcraStep, type BudgetCheck, type LimitStore, type RateCheck, type SettleBudget } from "./LimitStore.js"
import { makeMemoryCounters } from "./MemoryLimitStore.js"
import { closedLoopbackPort, makeTestRedisStore } from "./testing/PolicyTesting.js"

describe("gcraStep", () => {
  it("allows a full minute's allowance at once", () => {
    let tat: number | undefined
    for (let i = 0; i < 3; i++) {
      const step = gcraStep(tat, 1_000, 3, 1)
      expect(step.allowed).toBe(true)
      expect(step.state.remaining).toBe(2 - i)
      tat = step.tat
    }
    const refused = gcraStep(tat, 1_000, 3, 1)
    expect(refused.allowed).toBe(false)
    expect(refused.retryAfterMs).toBeCloseTo(20_000, 6)
  })

  it("refills one unit per interval", () => {
    const first = gcraStep(undefined, 0, 60, 60)
    expect(first.allowed).toBe(true)
    expect(first.state.remaining).toBe(0)
    expect(first.state.resetMs).toBe(60_000)
    expect(gcraStep(first.tat, 999, 60, 1).allowed).toBe(false)
    expect(gcraStep(first.tat, 1_000, 60, 1).allowed).toBe(true)
  })

  it("corrects a TAT up and down", () => {
    expect(gcraCorrect(10_000, 0, 60, 5)).toBe(15_000)
    expect(gcraCorrect(10_000, 0, 60, -5)).toBe(5_000)
    expect(gcraCorrect(10_000, 0, 60, -50)).toBe(0)
    expect(gcraCorrect(undefined, 0, 60, -5)).toBe(0)
  })
})

const HOUR = 3_600_000

const budget = (key: string, limitNanos: number, estimateNanos: number): BudgetCheck => ({
  key,
  limitNanos,
  estimateNanos,
  expiresAtMs: Date.now() + HOUR
})

const settleBudget = (key: string, releaseNanos: number, actualNanos: number, warnAt: ReadonlyArray<number> = []): SettleBudget => ({
  key,
  releaseNanos,
  actualNanos,
  limitNanos: 1_000,
  expiresAtMs: Date.now() + HOUR,
  warnAt
})

const requests = (key: string, perMinute: number): RateCheck => ({ key, perMinute, cost: 1 })

interface StoreUnderTest {
  readonly name: string
  readonly make: Effect.Effect<LimitStore, never, Scope.Scope>
}

const stores: ReadonlyArray<StoreUnderTest> = [
  { name: "memory", make: Effect.sync(() => makeMemoryCounters()) },
  { name: "Redis", make: Effect.map(makeTestRedisStore(), ({ store }) => store) }
]

describe.each(stores)("LimitStore in $name", ({ make }) => {
  it.scoped("reports unseeded budgets and reserves nothing", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:a", 0, Date.now() + HOUR)

      const result = yield* store.admit({ reservationId: randomUUID(), rates: [requests("r", 10)], budgets: [budget("b:a", 1_000, 100), budget("b:b", 1_000, 100)] })

      expect(result).toEqual({ _tag: "Unseeded", budgets: [1] })
      const states = yield* store.read(["b:a", "b:b"])
      expect(states).toEqual([{ spentNanos: 0, reservedNanos: 0 }, undefined])
    })
  )

  it.scoped("reserves on every budget or on none", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:wide", 0, Date.now() + HOUR)
      yield* store.seed("b:narrow", 900, Date.now() + HOUR)

      const refused = yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:wide", 1_000, 200), budget("b:narrow", 1_000, 200)] })
      expect(refused).toEqual({ _tag: "OverBudget", budget: 1, spentNanos: 900, reservedNanos: 0 })
      expect(yield* store.read(["b:wide"])).toEqual([{ spentNanos: 0, reservedNanos: 0 }])

      const admitted = yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:wide", 1_000, 100), budget("b:narrow", 1_000, 100)] })
      expect(admitted._tag).toBe("Admitted")
      expect(yield* store.read(["b:wide", "b:narrow"])).toEqual([
        { spentNanos: 0, reservedNanos: 100 },
        { spentNanos: 900, reservedNanos: 100 }
      ])
    })
  )

  it.scoped("counts reservations against the limit", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:x", 0, Date.now() + HOUR)

      const results = []
      for (let i = 0; i < 4; i++) results.push((yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:x", 1_000, 300)] }))._tag)

      expect(results).toEqual(["Admitted", "Admitted", "Admitted", "OverBudget"])
    })
  )

  it.scoped("keeps an existing counter when seeding again", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:s", 500, Date.now() + HOUR)
      yield* store.seed("b:s", 0, Date.now() + HOUR)

      expect(yield* store.read(["b:s"])).toEqual([{ spentNanos: 500, reservedNanos: 0 }])
    })
  )

  it.scoped("settles the reservation and adds the cost", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:s", 0, Date.now() + HOUR)
      const reservationId = randomUUID()
      yield* store.admit({ reservationId, rates: [], budgets: [budget("b:s", 1_000, 300)] })

      yield* store.settle({ reservationId, budgets: [settleBudget("b:s", 300, 120)], rates: [] })

      expect(yield* store.read(["b:s"])).toEqual([{ spentNanos: 120, reservedNanos: 0 }])
    })
  )

  it.scoped("leaves an unseeded counter unseeded at settlement", () =>
    Effect.gen(function* () {
      const store = yield* make

      yield* store.settle({ reservationId: randomUUID(), budgets: [settleBudget("b:never", 0, 120)], rates: [] })

      expect(yield* store.read(["b:never"])).toEqual([undefined])
    })
  )

  it.scoped("reports each warning fraction once", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:w", 0, Date.now() + HOUR)

      const first = yield* store.settle({ reservationId: randomUUID(), budgets: [settleBudget("b:w", 0, 600, [0.5, 0.8])], rates: [] })
      const second = yield* store.settle({ reservationId: randomUUID(), budgets: [settleBudget("b:w", 0, 300, [0.5, 0.8])], rates: [] })
      const third = yield* store.settle({ reservationId: randomUUID(), budgets: [settleBudget("b:w", 0, 50, [0.5, 0.8])], rates: [] })

      expect(first).toEqual([{ budget: 0, fraction: 0.5, spentNanos: 600 }])
      expect(second).toEqual([{ budget: 0, fraction: 0.8, spentNanos: 900 }])
      expect(third).toEqual([])
    })
  )

  it.scoped("limits requests per minute", () =>
    Effect.gen(function* () {
      const store = yield* make
      const remaining = []
      for (let i = 0; i < 3; i++) {
        const result = yield* store.admit({ reservationId: randomUUID(), rates: [requests("r:k", 3)], budgets: [] })
        if (result._tag !== "Admitted") throw new Error(`request ${i} was not admitted: ${result._tag}`)
        remaining.push(result.rates[0]!.remaining)
      }
      const refused = yield* store.admit({ reservationId: randomUUID(), rates: [requests("r:k", 3)], budgets: [] })

      expect(remaining).toEqual([2, 1, 0])
      expect(refused._tag).toBe("RateLimited")
      if (refused._tag === "RateLimited") {
        expect(refused.rate).toBe(0)
        expect(refused.retryAfterMs).toBeGreaterThan(19_000)
        expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000)
      }
    })
  )

  it.scoped("takes no rate when a budget rejects", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:full", 1_000, Date.now() + HOUR)

      const refused = yield* store.admit({ reservationId: randomUUID(), rates: [requests("r:one", 1)], budgets: [budget("b:full", 1_000, 1)] })
      const admitted = yield* store.admit({ reservationId: randomUUID(), rates: [requests("r:one", 1)], budgets: [] })

      expect(refused._tag).toBe("OverBudget")
      expect(admitted._tag).toBe("Admitted")
    })
  )

  it.scoped("gives tokens back at settlement", () =>
    Effect.gen(function* () {
      const store = yield* make
      const tokens: RateCheck = { key: "r:t", perMinute: 1_000, cost: 800 }
      expect((yield* store.admit({ reservationId: randomUUID(), rates: [tokens], budgets: [] }))._tag).toBe("Admitted")
      expect((yield* store.admit({ reservationId: randomUUID(), rates: [tokens], budgets: [] }))._tag).toBe("RateLimited")

      yield* store.settle({ reservationId: randomUUID(), budgets: [], rates: [{ key: "r:t", perMinute: 1_000, delta: -700 }] })

      expect((yield* store.admit({ reservationId: randomUUID(), rates: [tokens], budgets: [] }))._tag).toBe("Admitted")
    })
  )

  it.scoped("admits concurrent requests up to the budget", () =>
    Effect.gen(function* () {
      const store = yield* make
      yield* store.seed("b:c", 0, Date.now() + HOUR)

      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () => store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:c", 1_000, 300)] }),
        { concurrency: "unbounded" }
      )

      expect(results.filter((result) => result._tag === "Admitted")).toHaveLength(3)
    })
  )
})

describe("RedisLimitStore across instances", () => {
  it.scoped("shares counters between two stores", () =>
    Effect.gen(function* () {
      const first = yield* makeTestRedisStore()
      const second = yield* makeTestRedisStore({ prefix: first.prefix })
      yield* first.store.seed("b:shared", 0, Date.now() + HOUR)

      const a = yield* first.store.admit({ reservationId: randomUUID(), rates: [requests("r:shared", 2)], budgets: [budget("b:shared", 1_000, 600)] })
      const b = yield* second.store.admit({ reservationId: randomUUID(), rates: [requests("r:shared", 2)], budgets: [budget("b:shared", 1_000, 600)] })
      const c = yield* second.store.admit({ reservationId: randomUUID(), rates: [requests("r:shared", 2)], budgets: [] })
      const d = yield* second.store.admit({ reservationId: randomUUID(), rates: [requests("r:shared", 2)], budgets: [] })

      expect(a._tag).toBe("Admitted")
      expect(b._tag).toBe("OverBudget")
      expect(c._tag).toBe("Admitted")
      expect(d._tag).toBe("RateLimited")
    })
  )

  it.scoped("releases the reservation by its id", () =>
    Effect.gen(function* () {
      const { store } = yield* makeTestRedisStore()
      yield* store.seed("b:id", 0, Date.now() + HOUR)
      const reservationId = randomUUID()
      yield* store.admit({ reservationId, rates: [], budgets: [budget("b:id", 1_000, 300)] })
      yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:id", 1_000, 200)] })

      // The amount to release comes from Redis, whatever the caller passes.
      yield* store.settle({ reservationId, budgets: [settleBudget("b:id", 0, 100)], rates: [] })
      yield* store.settle({ reservationId, budgets: [settleBudget("b:id", 0, 0)], rates: [] })

      expect(yield* store.read(["b:id"])).toEqual([{ spentNanos: 100, reservedNanos: 200 }])
    })
  )

  it.scoped("stops counting a reservation after its TTL", () =>
    Effect.gen(function* () {
      const { store, prefix, admin } = yield* makeTestRedisStore({ reservationTtlMs: 200 })
      yield* store.seed("b:ttl", 0, Date.now() + HOUR)
      yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:ttl", 1_000, 900)] })

      const before = yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:ttl", 1_000, 900)] })
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
      const after = yield* store.admit({ reservationId: randomUUID(), rates: [], budgets: [budget("b:ttl", 1_000, 900)] })

      expect(before._tag).toBe("OverBudget")
      expect(after._tag).toBe("Admitted")
      expect(yield* Effect.promise(() => admin.hlen(`${prefix}b:ttl:reserved`))).toBe(2)
    })
  )

  it.scoped("expires budget keys after their period", () =>
    Effect.gen(function* () {
      const { store, prefix, admin } = yield* makeTestRedisStore()
      const expiresAtMs = Date.now() + HOUR
      yield* store.seed("b:ttl", 0, expiresAtMs)
      yield* store.admit({
        reservationId: randomUUID(),
        rates: [requests("r:ttl", 10)],
        budgets: [{ key: "b:ttl", limitNanos: 1_000, estimateNanos: 10, expiresAtMs }]
      })

      const spentTtl = yield* Effect.promise(() => admin.pttl(`${prefix}b:ttl`))
      const reservedTtl = yield* Effect.promise(() => admin.pttl(`${prefix}b:ttl:reserved`))
      const expiryTtl = yield* Effect.promise(() => admin.pttl(`${prefix}b:ttl:expiry`))
      const rateTtl = yield* Effect.promise(() => admin.pttl(`${prefix}r:ttl`))

      expect(spentTtl).toBeGreaterThan(HOUR - 10_000)
      expect(spentTtl).toBeLessThanOrEqual(HOUR)
      expect(reservedTtl).toBeGreaterThan(HOUR - 10_000)
      expect(expiryTtl).toBeGreaterThan(HOUR - 10_000)
      expect(rateTtl).toBeGreaterThan(0)
      expect(rateTtl).toBeLessThanOrEqual(7_000)
    })
  )

  it.scoped("fails with unavailable when Redis does not answer", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedLoopbackPort)
      const { store } = yield* makeTestRedisStore({ url: `redis://127.0.0.1:${port}` })

      const error = yield* Effect.flip(store.admit({ reservationId: randomUUID(), rates: [requests("r", 1)], budgets: [] }))

      expect(error._tag).toBe("LimitStoreError")
      expect(error.reason).toBe("unavailable")
    })
  )
})
