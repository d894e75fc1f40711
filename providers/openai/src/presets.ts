/**
 * OpenAI-compatible servers that need more than a base URL: where each one
 * lives, how it takes its key, and how its usage reporting departs from
 * OpenAI's. Facts as documented by each provider's API reference.
 */
import type { PassthroughEndpoint, UsageQuirks } from "@fluxen/sdk"

export interface Preset {
  readonly baseUrl: string
  readonly authStyle: "bearer" | "none"
  /** Whether the server accepts `stream_options.include_usage`; servers that reject the field get none. */
  readonly streamUsage: boolean
  readonly passthrough: ReadonlyArray<PassthroughEndpoint>
  readonly usageQuirks?: UsageQuirks
  /** Whether streamed tool calls lack the `index` and `type` that OpenAI's clients need, so the adapter adds them. */
  readonly completeToolCallDeltas?: boolean
}

export const presets = {
  openai: { baseUrl: "https://api.openai.com/v1", authStyle: "bearer", streamUsage: true, passthrough: ["completions", "responses"] },
  // Groq reports usage on the finish chunk, both as `usage` and under `x_groq.usage`.
  groq: { baseUrl: "https://api.groq.com/openai/v1", authStyle: "bearer", streamUsage: true, passthrough: [] },
  // Mistral sends usage with the finish chunk unasked and rejects unknown request fields. Its
  // streamed tool calls come whole, without `index` and `type`.
  mistral: { baseUrl: "https://api.mistral.ai/v1", authStyle: "bearer", streamUsage: false, passthrough: [], completeToolCallDeltas: true },
  // DeepSeek counts cache hits in `prompt_cache_hit_tokens`, which usage normalization reads.
  deepseek: { baseUrl: "https://api.deepseek.com/v1", authStyle: "bearer", streamUsage: true, passthrough: ["completions"] },
  together: { baseUrl: "https://api.together.xyz/v1", authStyle: "bearer", streamUsage: true, passthrough: ["completions"] },
  // OpenRouter interleaves `:` keep-alive comments in streams; the SSE parser skips them.
  openrouter: { baseUrl: "https://openrouter.ai/api/v1", authStyle: "bearer", streamUsage: true, passthrough: ["completions"] },
  // xAI reports reasoning tokens beside `completion_tokens`, not inside it.
  xai: {
    baseUrl: "https://api.x.ai/v1",
    authStyle: "bearer",
    streamUsage: true,
    passthrough: ["responses"],
    usageQuirks: { reasoningOutsideCompletion: true }
  },
  ollama: { baseUrl: "http://127.0.0.1:11434/v1", authStyle: "none", streamUsage: true, passthrough: ["completions"] },
  vllm: { baseUrl: "http://127.0.0.1:8000/v1", authStyle: "bearer", streamUsage: true, passthrough: ["completions"] }
} as const satisfies Record<string, Preset>

export type PresetName = keyof typeof presets

export const presetNames = Object.keys(presets) as Array<PresetName>
