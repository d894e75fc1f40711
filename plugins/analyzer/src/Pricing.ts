/**
 * Model prices: the table shipped in `@fluxen/config/pricing.json`, the
 * overrides from `fluxen.yaml`, model name lookup and the cost of a usage.
 * Prices are in USD per million tokens.
 */
import table from "@fluxen/config/pricing.json" with { type: "json" }
import type { Usage } from "@fluxen/sdk"
import { Effect, Schema } from "effect"
import type { ParseResult } from "effect"

const PricePerMillion = Schema.Number.pipe(Schema.nonNegative())

/** The price of one model, in USD per million tokens. */
export const ModelPrice = Schema.Struct({
  /** Uncached input tokens. */
  input: PricePerMillion,
  /** Input tokens read from the provider's prompt cache. When absent, `input` applies. */
  cachedInput: Schema.optional(PricePerMillion),
  /** Input tokens written to the provider's prompt cache, which for Anthropic means the default 5-minute lifetime. When absent, `input` applies. */
  cacheWrite: Schema.optional(PricePerMillion),
  /** Input tokens written to Anthropic's prompt cache with a 1-hour lifetime. When absent, `cacheWrite` applies. */
  cacheWrite1h: Schema.optional(PricePerMillion),
  /** Completion tokens, reasoning tokens included. */
  output: PricePerMillion,
  /** The day the price was read from the provider (YYYY-MM-DD). */
  takenAt: Schema.optional(Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}$/)))
})
export type ModelPrice = typeof ModelPrice.Type

/** The shape of `pricing.json`. */
export const PricingFile = Schema.Struct({
  version: Schema.String.pipe(Schema.minLength(1)),
  currency: Schema.Literal("USD"),
  unit: Schema.Literal("per 1M tokens"),
  note: Schema.optional(Schema.String),
  models: Schema.Record({ key: Schema.String, value: ModelPrice })
})
export type PricingFile = typeof PricingFile.Type

export interface PricingTable {
  /** The `version` of the shipped table, recorded with every cost. */
  readonly version: string
  readonly models: ReadonlyMap<string, ModelPrice>
}

/** Decodes the table shipped with Fluxen, failing when the file does not match {@link PricingFile}. */
export const loadShippedPricing: Effect.Effect<PricingFile, ParseResult.ParseError> =
  Schema.decodeUnknown(PricingFile)(table)

/**
 * Builds the lookup table. An override replaces the shipped entry of the
 * same name as a whole, so a new `input` price never mixes with an old
 * `cachedInput`. An override for a name not in the file adds a model.
 */
export const makePricingTable = (
  file: PricingFile,
  overrides: Readonly<Record<string, ModelPrice>> = {}
): PricingTable => ({
  version: file.version,
  models: new Map([...Object.entries(file.models), ...Object.entries(overrides)])
})

// A trailing release date: OpenAI writes `-2024-07-18`, Anthropic `-20250929`.
const TRAILING_DATE = /-(\d{4}-\d{2}-\d{2}|\d{8})$/

/**
 * Lists the names tried for a model, in order: the name as given, without
 * its trailing date, without its `provider/` prefix (everything up to the
 * last `/`), and without both.
 */
export const priceLookupNames = (model: string): ReadonlyArray<string> => {
  const unprefixed = model.slice(model.lastIndexOf("/") + 1)
  const candidates = [model, model.replace(TRAILING_DATE, ""), unprefixed, unprefixed.replace(TRAILING_DATE, "")]
  return [...new Set(candidates)]
}

/** Finds the price of a model by the names of {@link priceLookupNames}; undefined when none is priced. */
export const lookupPrice = (pricing: PricingTable, model: string): ModelPrice | undefined => {
  // The name as given is the first candidate, and usually priced: found without building the list.
  const exact = pricing.models.get(model)
  if (exact !== undefined) return exact
  for (const name of priceLookupNames(model)) {
    const price = pricing.models.get(name)
    if (price !== undefined) return price
  }
  return undefined
}

/**
 * Computes the cost of a usage in USD, unrounded. Uncached input is
 * `promptTokens - cachedInputTokens - cacheWriteTokens`, because canonical
 * `promptTokens` includes both. It is clamped at 0, so inconsistent provider
 * counts cannot produce a negative cost. The 1-hour writes are the part of
 * `cacheWriteTokens` priced at `cacheWrite1h`, and the rest at `cacheWrite`.
 */
export const costOf = (usage: Usage, price: ModelPrice): number => {
  const uncachedInput = Math.max(0, usage.promptTokens - usage.cachedInputTokens - usage.cacheWriteTokens)
  const cacheWritePrice = price.cacheWrite ?? price.input
  const written1h = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens)
  const microDollars =
    uncachedInput * price.input +
    usage.cachedInputTokens * (price.cachedInput ?? price.input) +
    (usage.cacheWriteTokens - written1h) * cacheWritePrice +
    written1h * (price.cacheWrite1h ?? cacheWritePrice) +
    usage.completionTokens * price.output
  return microDollars / 1_000_000
}

/** Checks whether a usage has 1-hour cache writes that its price has no `cacheWrite1h` for. */
export const lacksCacheWrite1hPrice = (usage: Usage, price: ModelPrice): boolean =>
  price.cacheWrite1h === undefined && (usage.cacheWrite1hTokens ?? 0) > 0

