/**
 * Runs the Fluxen provider conformance suite against hand-written Cohere
 * recordings (see README.md for where they come from).
 */
import { readRecording, runProviderConformance } from "@fluxen/sdk/testing"
import { describe, expect, it } from "vitest"
import plugin from "./index.js"

const recording = (name: string) => readRecording(new URL(`../recordings/${name}`, import.meta.url))

// The 400 recording quotes this key, to check that the adapter redacts it.
const API_KEY = "co-conformance-key-5d7e9a"

runProviderConformance(
  { describe, it, expect },
  {
    plugin,
    config: (baseUrl) => ({ baseUrl, apiKey: API_KEY }),
    upstreamModel: "command-a-03-2025",
    secrets: [API_KEY],
    recordings: {
      chat: recording("chat.json"),
      stream: recording("chat-stream.sse"),
      toolCall: recording("tool-call.json"),
      streamedToolCall: recording("tool-call-stream.sse"),
      errors: [
        { name: "an invalid API token", recording: recording("error-401-invalid-api-token.json"), status: 401 },
        { name: "a rate limit", recording: recording("error-429-rate-limit.json"), status: 429 },
        { name: "an error that quotes the API key", recording: recording("error-400-message-quotes-key.json"), status: 400 }
      ]
    }
  }
)
