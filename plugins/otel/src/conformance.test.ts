import { runHookConformance, startReplayUpstream } from "@fluxen/sdk/testing"
import { afterAll, describe, expect, it } from "vitest"
import otel from "./index.js"

// The collector accepts the one export the plugin sends when it closes after the suite.
const collector = await startReplayUpstream()
collector.enqueue({ recording: { body: "{}" } })
afterAll(() => collector.close())

runHookConformance(
  { describe, it, expect, afterAll },
  { plugin: otel, config: { endpoint: `${collector.url}/v1/traces`, batch: { interval: "1 hour" } }, timeoutMs: 1_000 }
)
