/**
 * Model families with their tiers, most capable first. A model is
 * recommended to move to the next tier down of its family, never further,
 * because each step down loses quality that only a test on real traffic can
 * measure.
 */
import { priceLookupNames } from "@fluxen/analyzer"

export interface ModelTier {
  /** The model recommended for this tier; it must have a price. */
  readonly model: string
  /** Matches the names of this tier's models, without a trailing date or `provider/` prefix. */
  readonly matches: RegExp
}

export interface ModelFamily {
  readonly family: string
  /** Tiers from the most capable (and most expensive) to the cheapest. */
  readonly tiers: ReadonlyArray<ModelTier>
}

export const MODEL_FAMILIES: ReadonlyArray<ModelFamily> = [
  {
    family: "gpt-4o",
    tiers: [
      { model: "gpt-4o", matches: /^gpt-4o$/ },
      { model: "gpt-4o-mini", matches: /^gpt-4o-mini$/ }
    ]
  },
  {
    family: "gpt-4.1",
    tiers: [
      { model: "gpt-4.1", matches: /^gpt-4\.1$/ },
      { model: "gpt-4.1-mini", matches: /^gpt-4\.1-mini$/ },
      { model: "gpt-4.1-nano", matches: /^gpt-4\.1-nano$/ }
    ]
  },
  {
    family: "gpt-5",
    tiers: [
      { model: "gpt-5", matches: /^gpt-5$/ },
      { model: "gpt-5-mini", matches: /^gpt-5-mini$/ },
      { model: "gpt-5-nano", matches: /^gpt-5-nano$/ }
    ]
  },
  {
    family: "claude",
    tiers: [
      { model: "claude-opus-4-1", matches: /^claude-(opus-\d|3-opus)/ },
      { model: "claude-sonnet-4-5", matches: /^claude-(sonnet-\d|3-\d-sonnet|3-sonnet)/ },
      { model: "claude-haiku-4-5", matches: /^claude-(haiku-\d|3-\d-haiku|3-haiku)/ }
    ]
  },
  {
    family: "gemini-2.5",
    tiers: [
      { model: "gemini-2.5-pro", matches: /^gemini-2\.5-pro$/ },
      { model: "gemini-2.5-flash", matches: /^gemini-2\.5-flash$/ },
      { model: "gemini-2.5-flash-lite", matches: /^gemini-2\.5-flash-lite$/ }
    ]
  },
  {
    family: "openai-reasoning",
    tiers: [
      { model: "o3", matches: /^o3$/ },
      { model: "o4-mini", matches: /^o4-mini$/ }
    ]
  }
]

export interface CheaperTier {
  readonly family: string
  readonly candidate: string
}

/** Finds the next tier down from a model, or undefined when the model is in no family or already in its cheapest tier. */
export const nextCheaperTier = (model: string, families: ReadonlyArray<ModelFamily> = MODEL_FAMILIES): CheaperTier | undefined => {
  const names = priceLookupNames(model)
  for (const { family, tiers } of families) {
    const index = tiers.findIndex((tier) => names.some((name) => tier.matches.test(name)))
    if (index < 0) continue
    const next = tiers[index + 1]
    return next === undefined ? undefined : { family, candidate: next.model }
  }
  return undefined
}
