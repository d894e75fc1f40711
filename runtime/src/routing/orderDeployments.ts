/**
 * The order in which one request tries a plan's deployments. Deployments in
 * cooldown go last, so they serve only when every other one failed.
 */
import type { DeploymentHealth } from "./DeploymentHealth.js"
import type { Deployment, RoutePlan } from "./ModelRouter.js"

/** Draws deployments one by one, each with a chance proportional to its weight. */
const weightedOrder = (deployments: ReadonlyArray<Deployment>, random: () => number): Array<Deployment> => {
  const remaining = [...deployments]
  const ordered: Array<Deployment> = []
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, deployment) => sum + deployment.weight, 0)
    let point = random() * total
    let index = 0
    while (index < remaining.length - 1 && point >= remaining[index]!.weight) {
      point -= remaining[index]!.weight
      index++
    }
    ordered.push(remaining.splice(index, 1)[0]!)
  }
  return ordered
}

/** Unmeasured deployments first (so each gets measured), then the fastest. */
const latencyOrder = (deployments: ReadonlyArray<Deployment>, health: DeploymentHealth): Array<Deployment> =>
  [...deployments].sort((a, b) => (health.latency(a.id) ?? -1) - (health.latency(b.id) ?? -1))

export const orderDeployments = (
  plan: RoutePlan,
  health: DeploymentHealth,
  now: number,
  random: () => number = Math.random
): ReadonlyArray<Deployment> => {
  if (plan.deployments.length === 1) return plan.deployments
  const healthy = plan.deployments.filter((deployment) => !health.isCoolingDown(deployment.id, now))
  const cooling = plan.deployments.filter((deployment) => health.isCoolingDown(deployment.id, now))
  const ordered =
    plan.strategy === "weighted" ? weightedOrder(healthy, random) : plan.strategy === "latency" ? latencyOrder(healthy, health) : healthy
  return [...ordered, ...cooling]
}
