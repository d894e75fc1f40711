import { UpstreamHttpError, UpstreamUnreachableError, type CancelNotice, type GatewayError, type ProviderAdapter, type ProviderResult } from "@fluxen/sdk"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { callWithRouting, type RoutingEffects } from "./callWithRouting.js"
import type { Deployment, ModelRouter, RoutePlan } from "./ModelRouter.js"

const deployment = (id: string): Deployment => ({
  id,
  provider: id,
  upstreamModel: "m",
  adapter: {} as ProviderAdapter,
  idleTimeoutMs: 1_000,
  weight: 1
})

const plan = (deployments: ReadonlyArray<Deployment>, attempts = 0): RoutePlan => ({
  requestedModel: "m",
  model: "m",
  deployments,
  strategy: "ordered",
  retry: { attempts, initialDelay: 1, maxDelay: 5 },
  fallbacks: []
})

const fakeRouter = () => {
  const failures: Array<string> = []
  const successes: Array<string> = []
  const router = {
    health: {
      recordSuccess: (id: string) => successes.push(id),
      recordFailure: (id: string) => {
        failures.push(id)
        return false
      }
    },
    resolve: () => ({ _tag: "Left" })
  } as unknown as ModelRouter
  return { router, failures, successes }
}

const ok: ProviderResult = { _tag: "Json", status: 200, headers: {}, body: {} }
const unreachable = () => new UpstreamUnreachableError({ provider: "a", reason: "the connection was refused" })

const effects: RoutingEffects = {
  attempt: (effect) => Effect.runPromise(Effect.either(effect)).then((either) => (either._tag === "Right" ? either.right : Promise.reject(either.left))),
  sleep: async () => {},
  logInfo: () => {},
  logWarning: () => {}
}

/** Makes the notice of a client that has left once `cancelled` returns true. */
const cancelNotice = (cancelled = () => false): CancelNotice => ({ cancelled, watch: () => () => {} })

describe("callWithRouting", () => {
  it("retries, then falls back", async () => {
    const { router, failures, successes } = fakeRouter()
    const [a, b] = [deployment("a"), deployment("b")]
    const calls: Array<string> = []
    const invoke = (target: Deployment): Effect.Effect<ProviderResult, GatewayError> => {
      calls.push(target.id)
      return target.id === "a" ? Effect.fail(unreachable()) : Effect.succeed(ok)
    }
    const routed = await callWithRouting(router, plan([a, b], 1), [a, b], invoke, "req", effects, cancelNotice())
    expect(calls).toEqual(["a", "a", "b"])
    expect(routed.deployment).toBe(b)
    expect(routed.attempts).toBe(3)
    expect(failures).toEqual(["a", "a"])
    expect(successes).toEqual(["b"])
  })

  it("leaves health alone when told", async () => {
    const { router, failures, successes } = fakeRouter()
    const [a, b] = [deployment("a"), deployment("b")]
    const invoke = (target: Deployment): Effect.Effect<ProviderResult, GatewayError> =>
      target.id === "a" ? Effect.fail(unreachable()) : Effect.succeed(ok)
    const routed = await callWithRouting(router, plan([a, b]), [a, b], invoke, "req", effects, cancelNotice(), false)
    expect(routed.deployment).toBe(b)
    expect(failures).toEqual([])
    expect(successes).toEqual([])
  })

  it("stops at a non-retryable failure", async () => {
    const { router, failures } = fakeRouter()
    const [a, b] = [deployment("a"), deployment("b")]
    const badRequest = new UpstreamHttpError({ provider: "a", status: 400, headers: {}, error: { message: "bad", type: "invalid_request_error", param: null, code: null } })
    const invoke = (): Effect.Effect<ProviderResult, GatewayError> => Effect.fail(badRequest)
    await expect(callWithRouting(router, plan([a, b], 2), [a, b], invoke, "req", effects, cancelNotice())).rejects.toBe(badRequest)
    expect(failures).toEqual([])
  })

  it("cancelled call: no retry, health untouched", async () => {
    const { router, failures } = fakeRouter()
    const [a, b] = [deployment("a"), deployment("b")]
    let calls = 0
    const invoke = (): Effect.Effect<ProviderResult, GatewayError> => {
      calls++
      return Effect.fail(new UpstreamUnreachableError({ provider: "a", reason: "the request was cancelled" }))
    }
    const failure = await callWithRouting(router, plan([a, b], 2), [a, b], invoke, "req", effects, cancelNotice(() => true)).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(UpstreamUnreachableError)
    expect(calls).toBe(1)
    expect(failures).toEqual([])
  })
})
