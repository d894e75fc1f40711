import { describe, expect, it } from "@effect/vitest"
import type { ProviderAdapter } from "@fluxen/sdk"
import { DeploymentHealth } from "./DeploymentHealth.js"
import type { Deployment, RoutePlan } from "./ModelRouter.js"
import { orderDeployments } from "./orderDeployments.js"

const deployment = (provider: string, weight = 1): Deployment => ({
  id: `${provider}/m`,
  provider,
  upstreamModel: "m",
  adapter: {} as ProviderAdapter,
  idleTimeoutMs: 1_000,
  weight
})

const plan = (strategy: RoutePlan["strategy"], deployments: Array<Deployment>): RoutePlan => ({
  requestedModel: "m",
  model: "m",
  deployments,
  strategy,
  retry: { attempts: 0, initialDelay: 10, maxDelay: 100 },
  fallbacks: []
})

const names = (deployments: ReadonlyArray<Deployment>) => deployments.map((item) => item.provider)

describe("orderDeployments", () => {
  it("keeps the configured order for ordered", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 1_000 })
    expect(names(orderDeployments(plan("ordered", [deployment("a"), deployment("b"), deployment("c")]), health, 0))).toEqual(["a", "b", "c"])
  })

  it("puts a deployment in cooldown last until the cooldown ends", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 5_000 })
    const pair = plan("ordered", [deployment("a"), deployment("b")])
    expect(health.recordFailure("a/m", 100)).toBe(false)
    expect(health.recordFailure("a/m", 200)).toBe(true)
    expect(names(orderDeployments(pair, health, 300))).toEqual(["b", "a"])
    expect(names(orderDeployments(pair, health, 5_300))).toEqual(["a", "b"])
  })

  it("forgets failures outside the window", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 5_000 })
    health.recordFailure("a/m", 0)
    expect(health.recordFailure("a/m", 1_500)).toBe(false)
  })

  it("draws by weight", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 1_000 })
    const weighted = plan("weighted", [deployment("heavy", 3), deployment("light", 1)])
    expect(names(orderDeployments(weighted, health, 0, () => 0.1))).toEqual(["heavy", "light"])
    expect(names(orderDeployments(weighted, health, 0, () => 0.8))).toEqual(["light", "heavy"])
  })

  it("prefers unmeasured, then the fastest, for latency", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 1_000 })
    const three = plan("latency", [deployment("slow"), deployment("fast"), deployment("new")])
    health.recordSuccess("slow/m", 900)
    health.recordSuccess("fast/m", 100)
    expect(names(orderDeployments(three, health, 0))).toEqual(["new", "fast", "slow"])
    health.recordSuccess("new/m", 500)
    expect(names(orderDeployments(three, health, 0))).toEqual(["fast", "new", "slow"])
  })

  it("smooths latency over samples", () => {
    const health = new DeploymentHealth({ failures: 2, windowMs: 1_000, durationMs: 1_000 })
    health.recordSuccess("a/m", 100)
    health.recordSuccess("a/m", 200)
    expect(health.latency("a/m")).toBeCloseTo(130)
  })
})
