/**
 * The cost estimate of a request before it runs: its prompt tokens (the analyzer's
 * estimate) plus the completion tokens it allows, priced at the model's
 * uncached input and output prices. Admission reserves this amount; the
 * request's real cost replaces it when the request ends.
 */
import { lookupPrice, type PricingTable } from "@fluxen/analyzer"
import type { RequestContext } from "@fluxen/sdk"
import { estimateToNanos } from "./Limits.js"

/** Characters per token assumed when the analyzer recorded no prompt estimate. */
export const CHARS_PER_TOKEN = 4

export interface RequestEstimate {
  readonly promptTokens: number
  readonly completionTokens: number
  /** Prompt plus completion tokens, what token rate limits count. */
  readonly tokens: number
  readonly costNanos: number
  /** False when the model has no price; `costNanos` is 0 then. */
  readonly priced: boolean
  /** True when the prompt tokens were guessed from the body size. */
  readonly promptGuessed: boolean
}

const completionCap = (request: unknown): number | undefined => {
  const body = request as { max_tokens?: unknown; max_completion_tokens?: unknown; max_output_tokens?: unknown }
  for (const value of [body.max_tokens, body.max_completion_tokens, body.max_output_tokens]) {
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value
  }
  return undefined
}

export const estimateRequest = (
  context: RequestContext,
  pricing: PricingTable,
  defaultMaxOutputTokens: number
): RequestEstimate => {
  const recorded = context.record.promptTokensEstimate
  const promptTokens = recorded ?? Math.ceil(JSON.stringify(context.request).length / CHARS_PER_TOKEN)
  const completionTokens = context.endpoint === "embeddings" ? 0 : (completionCap(context.request) ?? defaultMaxOutputTokens)
  const price = lookupPrice(pricing, context.route.upstreamModel)
  const costUsd = price === undefined ? 0 : (promptTokens * price.input + completionTokens * price.output) / 1_000_000
  return {
    promptTokens,
    completionTokens,
    tokens: promptTokens + completionTokens,
    costNanos: estimateToNanos(costUsd),
    priced: price !== undefined,
    promptGuessed: recorded === undefined
  }
}
