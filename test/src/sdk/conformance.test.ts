/**
 * Runs the SDK's conformance suites against Fluxen's own OpenAI provider and
 * analyzer plugin, with recordings of OpenAI's API, so a change that makes
 * the suites reject a provider known to work shows up here.
 */
import analyzer from "@fluxen/analyzer"
import openai from "@fluxen/provider-openai"
import { readRecording, runHookConformance, runProviderConformance } from "@fluxen/sdk/testing"
import { afterAll, describe, expect, it } from "vitest"
import { fixturesDir } from "../support/fixtures.js"

const recording = (path: string) => readRecording(new URL(`openai/chat-completions/${path}`, fixturesDir))

const API_KEY = "sk-conformance-key-6f1c2a"

runProviderConformance(
  { describe, it, expect },
  {
    plugin: openai,
    config: (baseUrl) => ({ baseUrl: `${baseUrl}/v1`, apiKey: API_KEY }),
    upstreamModel: "gpt-4o-mini-2024-07-18",
    secrets: [API_KEY],
    recordings: {
      chat: recording("text.json"),
      stream: recording("text-stream-usage.sse"),
      toolCall: recording("tool-call.json"),
      streamedToolCall: recording("tool-call-stream-usage.sse"),
      errors: [
        { name: "an invalid API key", recording: recording("error-401-invalid-api-key.json"), status: 401 },
        { name: "an unknown model", recording: recording("error-404-model-not-found.json"), status: 404 }
      ]
    }
  }
)

runHookConformance({ describe, it, expect, afterAll }, { plugin: analyzer, config: {}, timeoutMs: 2_000 })
