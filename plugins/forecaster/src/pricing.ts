/** The price table the recommendations use: the analyzer's shipped table with this plugin's overrides. */
import { makePricingTable, ModelPrice, type PricingTable } from "@fluxen/analyzer"
import table from "@fluxen/config/pricing.json" with { type: "json" }
import { Effect, Schema } from "effect"
import type { ParseResult } from "effect"

const ShippedPricing = Schema.Struct({
  version: Schema.String,
  models: Schema.Record({ key: Schema.String, value: ModelPrice })
})

/** Decodes `@fluxen/config/pricing.json` and applies the overrides, each replacing the shipped entry of its name. */
export const loadPricing = (overrides: Readonly<Record<string, ModelPrice>>): Effect.Effect<PricingTable, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(ShippedPricing)(table), (shipped) =>
    makePricingTable({ ...shipped, currency: "USD", unit: "per 1M tokens" }, overrides)
  )
