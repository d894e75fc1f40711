/**
 * Cheaper-model recommendations from each model's recent traffic. A model
 * qualifies when its outputs are short and its prompts small (by their 90th
 * percentiles) and it has enough requests. It also needs a cheaper model:
 * the configured shadow candidate, or else the next tier down of its family
 * (`modelFamilies.ts`). Recommendations are reports only, because the
 * forecaster never routes traffic to a candidate.
 *
 * The saving prices the model's real token counts at both models' prices:
 * (cost at the current price − cost at the candidate's price), scaled from
 * the days covered to 30 days. It assumes the candidate would produce as
 * many tokens and hit the provider's prompt cache as often, which a shadow
 * evaluation can check for the token counts.
 */
import { costOf, lookupPrice, priceLookupNames, type PricingTable } from "@fluxen/analyzer"
import type { ShadowSummary } from "../shadow/ShadowStore.js"
import { nextCheaperTier } from "./modelFamilies.js"
import type { ModelUsageProfile } from "./usageProfiles.js"

export const MONTH_DAYS = 30
const DAY_MS = 86_400_000

/** Sample sizes at which the confidence becomes `medium` and `high`. */
export const MEDIUM_CONFIDENCE_REQUESTS = 100
export const HIGH_CONFIDENCE_REQUESTS = 1_000

/**
 * Days of traffic at which the confidence can become `medium` (one week,
 * which contains every weekday once) and `high` (two weeks, so the weekly
 * pattern has repeated). Fewer days may miss the weekend's traffic however
 * many requests they hold.
 */
export const MEDIUM_CONFIDENCE_DAYS = 7
export const HIGH_CONFIDENCE_DAYS = 14

export type Confidence = "low" | "medium" | "high"

export interface RecommendationRules {
  readonly minRequests: number
  readonly maxP90CompletionTokens: number
  readonly maxP90PromptTokens: number
}

/** The rule that matched, with the figures it compared. */
export interface RecommendationReason {
  readonly rule: "short-outputs-small-prompts"
  readonly summary: string
  readonly p90CompletionTokens: number
  readonly maxP90CompletionTokens: number
  readonly p90PromptTokens: number
  readonly maxP90PromptTokens: number
  /** Source of the candidate: the family table or the shadow configuration. */
  readonly candidateSource: "family" | "shadow-config"
  readonly family: string | null
}

export interface Recommendation {
  readonly from: string
  readonly to: string
  readonly requestedModels: ModelUsageProfile["requestedModels"]
  readonly why: RecommendationReason
  readonly requests: number
  /** Cost of the counted requests at the current model's price, in USD. */
  readonly currentCostUsd: number
  /** Cost of the same tokens at the candidate's price, in USD. */
  readonly candidateCostUsd: number
  readonly monthlySavingUsd: number
  readonly confidence: Confidence
  /** Shadow results of this model and candidate, or null when none were collected. */
  readonly evidence: { readonly shadow: ShadowSummary | null }
}

export interface RecommendInput {
  readonly profiles: ReadonlyArray<ModelUsageProfile>
  readonly pricing: PricingTable
  readonly rules: RecommendationRules
  /** Days of traffic the profiles cover; the saving is scaled by 30 / coveredDays, counting at least one day. */
  readonly coveredDays: number
  /** The shadow configuration's candidates, which take precedence over the family table. */
  readonly configuredCandidates: Readonly<Record<string, string>>
  readonly shadowSummaries: ReadonlyArray<ShadowSummary>
}

/**
 * Computes the days of traffic a lookback window contains. That is the
 * whole window when the usage table has a request older than it, else the
 * time since the table's first request, and 0 for an empty table.
 */
export const coveredDays = (options: {
  readonly lookbackDays: number
  readonly nowMs: number
  readonly firstRequestMs: number | undefined
}): number => {
  const windowStartMs = options.nowMs - options.lookbackDays * DAY_MS
  if (options.firstRequestMs === undefined) return 0
  if (options.firstRequestMs <= windowStartMs) return options.lookbackDays
  return (options.nowMs - options.firstRequestMs) / DAY_MS
}

/**
 * Rates a sample by its requests and the days it covers: `high` from 1,000
 * requests over 14 days, `medium` from 100 requests over 7 days, else `low`.
 */
export const confidenceOf = (requests: number, days: number): Confidence => {
  if (requests >= HIGH_CONFIDENCE_REQUESTS && days >= HIGH_CONFIDENCE_DAYS) return "high"
  if (requests >= MEDIUM_CONFIDENCE_REQUESTS && days >= MEDIUM_CONFIDENCE_DAYS) return "medium"
  return "low"
}

const configuredCandidate = (candidates: Readonly<Record<string, string>>, model: string): string | undefined => {
  for (const name of priceLookupNames(model)) {
    const candidate = candidates[name]
    if (candidate !== undefined) return candidate
  }
  return undefined
}

const costOfProfile = (profile: ModelUsageProfile, price: NonNullable<ReturnType<typeof lookupPrice>>): number =>
  costOf(
    {
      promptTokens: profile.promptTokens,
      completionTokens: profile.completionTokens,
      cachedInputTokens: profile.cachedInputTokens,
      cacheWriteTokens: profile.cacheWriteTokens,
      cacheWrite1hTokens: profile.cacheWrite1hTokens,
      reasoningTokens: 0
    },
    price
  )

const reasonFor = (profile: ModelUsageProfile, rules: RecommendationRules, source: RecommendationReason["candidateSource"], family: string | null): RecommendationReason => ({
  rule: "short-outputs-small-prompts",
  summary:
    `90% of ${profile.requests} successful requests produced at most ${profile.p90CompletionTokens} completion tokens ` +
    `(rule: at most ${rules.maxP90CompletionTokens}) and sent at most ${profile.p90PromptTokens} prompt tokens ` +
    `(rule: at most ${rules.maxP90PromptTokens}).`,
  p90CompletionTokens: profile.p90CompletionTokens,
  maxP90CompletionTokens: rules.maxP90CompletionTokens,
  p90PromptTokens: profile.p90PromptTokens,
  maxP90PromptTokens: rules.maxP90PromptTokens,
  candidateSource: source,
  family
})

/** Lists the recommendations, the largest monthly saving first. */
export const recommendModels = (input: RecommendInput): ReadonlyArray<Recommendation> => {
  const { rules, pricing } = input
  const recommendations: Array<Recommendation> = []

  for (const profile of input.profiles) {
    if (profile.requests < rules.minRequests) continue
    if (profile.p90CompletionTokens > rules.maxP90CompletionTokens) continue
    if (profile.p90PromptTokens > rules.maxP90PromptTokens) continue

    const configured = configuredCandidate(input.configuredCandidates, profile.model)
    const tier = configured === undefined ? nextCheaperTier(profile.model) : undefined
    const candidate = configured ?? tier?.candidate
    if (candidate === undefined) continue

    const currentPrice = lookupPrice(pricing, profile.model)
    const candidatePrice = lookupPrice(pricing, candidate)
    if (currentPrice === undefined || candidatePrice === undefined) continue

    const currentCostUsd = costOfProfile(profile, currentPrice)
    const candidateCostUsd = costOfProfile(profile, candidatePrice)
    if (candidateCostUsd >= currentCostUsd) continue

    const shadow = input.shadowSummaries.find((summary) => summary.model === profile.model && summary.candidate === candidate)
    recommendations.push({
      from: profile.model,
      to: candidate,
      requestedModels: profile.requestedModels,
      why: reasonFor(profile, rules, configured === undefined ? "family" : "shadow-config", tier?.family ?? null),
      requests: profile.requests,
      currentCostUsd,
      candidateCostUsd,
      // At least one day, so that a few hours of traffic are not multiplied by hundreds.
      monthlySavingUsd: ((currentCostUsd - candidateCostUsd) * MONTH_DAYS) / Math.max(1, input.coveredDays),
      confidence: confidenceOf(profile.requests, input.coveredDays),
      evidence: { shadow: shadow ?? null }
    })
  }

  return recommendations.sort((a, b) => b.monthlySavingUsd - a.monthlySavingUsd)
}
