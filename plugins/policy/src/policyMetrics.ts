/**
 * The policy's figures for the gateway's `GET /metrics`: the requests
 * admitted without their checks because the counter store failed, and,
 * with Redis, whether it is in use. The host adds the `plugin` label.
 */
import type { PluginMetric } from "@fluxen/sdk"
import type { PolicyStats } from "./PolicyHooks.js"
import type { RedisLimitStore } from "./RedisLimitStore.js"

/** Lists the metrics. `redis` is the Redis store, and undefined for the memory store. */
export const policyMetrics = (stats: PolicyStats, redis: Pick<RedisLimitStore, "status" | "circuit"> | undefined): ReadonlyArray<PluginMetric> => {
  const metrics: Array<PluginMetric> = [
    {
      name: "fluxen_policy_unchecked_admissions_total",
      type: "counter",
      help: "Requests let through without their rate limit and budget checks because the counter store failed (redis.failMode open).",
      samples: [{ value: stats.uncheckedAdmissions }]
    }
  ]
  if (redis !== undefined) {
    metrics.push({
      name: "fluxen_policy_redis_up",
      type: "gauge",
      help: "1 while the policy's Redis connection is ready and its circuit breaker is closed, 0 otherwise.",
      samples: [{ value: redis.status() === "ready" && redis.circuit() === "closed" ? 1 : 0 }]
    })
  }
  return metrics
}
