import { describe, expect, it } from "@effect/vitest"
import { DeploymentHealth, type CooldownPolicy } from "./DeploymentHealth.js"

const policy: CooldownPolicy = { failures: 2, windowMs: 60_000, durationMs: 30_000 }

/** Returns a health in which `a/m` is cooling down since time 0 and `b/m` has a latency average of 120 ms. */
const coolingHealth = (): DeploymentHealth => {
  const health = new DeploymentHealth(policy)
  health.recordFailure("a/m", 0)
  health.recordFailure("a/m", 0)
  health.recordSuccess("b/m", 120)
  return health
}

describe("DeploymentHealth.carryOver", () => {
  it("keeps cooldowns with the same policy", () => {
    const next = new DeploymentHealth({ ...policy })

    next.carryOver(coolingHealth(), new Set(["a/m", "b/m"]))

    expect(next.isCoolingDown("a/m", 1_000)).toBe(true)
    expect(next.isCoolingDown("a/m", 30_000)).toBe(false)
    expect(next.latency("b/m")).toBe(120)
  })

  it("drops deployments not listed", () => {
    const next = new DeploymentHealth(policy)

    next.carryOver(coolingHealth(), new Set(["b/m"]))

    expect(next.isCoolingDown("a/m", 1_000)).toBe(false)
    expect(next.latency("b/m")).toBe(120)
  })

  it("counts the old gateway's later failures", () => {
    const previous = new DeploymentHealth(policy)
    previous.recordFailure("a/m", 0)
    const next = new DeploymentHealth(policy)
    next.carryOver(previous, new Set(["a/m"]))

    // A request that the replaced gateway still finishes fails and completes the count.
    previous.recordFailure("a/m", 10)

    expect(next.isCoolingDown("a/m", 1_000)).toBe(true)
  })

  it("changed policy keeps only latency", () => {
    const previousHealth = coolingHealth()
    previousHealth.recordSuccess("a/m", 80)
    previousHealth.recordFailure("b/m", 0)
    const next = new DeploymentHealth({ ...policy, durationMs: 10_000 })

    next.carryOver(previousHealth, new Set(["a/m", "b/m"]))

    expect(next.isCoolingDown("a/m", 1_000)).toBe(false)
    expect(next.latency("a/m")).toBe(80)
    expect(next.latency("b/m")).toBe(120)
    // The failure of `b/m` counted under the old policy is gone, so one more does not start a cooldown.
    expect(next.recordFailure("b/m", 1_000)).toBe(false)
  })
})
