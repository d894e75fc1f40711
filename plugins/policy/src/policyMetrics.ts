/**
 * The policy's figures for the gateway's `GET /metrics`: the requests
 * admitted without their checks because the counter store failed, and,
 * with Redis, whether its connection is up. The host adds the `plugin`
 * label.
 */
import type { PluginMetric } from "@fluxen/sdk"
import type { PolicyStats } from "./PolicyHooks.js"

/** Lists the metrics. `redisStatus` reads the Redis client's state, and is undefined for the memory store. */
export const policyMetrics = (stats: PolicyStats, redisStatus: (() => string) | undefined): ReadonlyArray<PluginMetric> => {
  const metrics: Array<PluginMetric> = [
    {
      name: "fluxen_policy_unchecked_admissions_total",
      type: "counter",
      help: "Requests let through without their rate limit and budget checks because the counter store failed (redis.failMode open).",
      samples: [{ value: stats.uncheckedAdmissions }]
    }
  ]
  if (redisStatus !== undefined) {
    metrics.push({
      name: "fluxen_policy_redis_up",
      type: "gauge",
      help: "1 while the policy's Redis connection is ready, 0 otherwise.",
      samples: [{ value: redisStatus() === "ready" ? 1 : 0 }]
    })
  }
  return metrics
}
