import { runHookConformance } from "@fluxen/sdk/testing"
import { afterAll, describe, expect, it } from "vitest"
import policy from "./index.js"
import { policyTestDatabases } from "./testing/PolicyTesting.js"

const sqlite = policyTestDatabases[0]!.layer

// Keys are optional here so that the hooks reach admission, with a global
// budget and rate limit that every sample request passes.
runHookConformance(
  { describe, it, expect, afterAll },
  {
    plugin: policy,
    config: {
      requireKey: false,
      budgets: [{ scope: "global", period: "day", limitUsd: 100 }],
      rateLimits: [{ scope: "global", requestsPerMinute: 1_000, tokensPerMinute: 1_000_000 }],
      pricing: { overrides: { "conformance-model": { input: 1, output: 1 }, "conformance-embedding-model": { input: 1, output: 0 } } }
    },
    timeoutMs: 2_000,
    sqlLayer: sqlite
  }
)

runHookConformance(
  { describe, it, expect, afterAll },
  { plugin: policy, config: {}, timeoutMs: 2_000, sqlLayer: sqlite }
)
