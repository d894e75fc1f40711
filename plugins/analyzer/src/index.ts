/**
 * The analyzer plugin: estimates prompt tokens before each request and, after
 * it, prices the usage with the shipped pricing table and the overrides from
 * `fluxen.yaml`.
 */
import { definePlugin, Plugin, PluginHost, SDK_API_VERSION } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"
import { makeRequestHooks } from "./Analyzer.js"
import { loadShippedPricing, makePricingTable, ModelPrice } from "./Pricing.js"
import * as TokenCounter from "./TokenCounter.js"

export { costOf, lookupPrice, makePricingTable, ModelPrice, priceLookupNames, type PricingTable } from "./Pricing.js"
export { DEFAULT_INLINE_MAX_CHARS, TokenCountError, type TokenCounterService } from "./TokenCounter.js"

const DEFAULT_WORKERS = 1

export const AnalyzerConfig = Schema.Struct({
  pricing: Schema.optionalWith(
    Schema.Struct({
      /** Prices by model name, in USD per million tokens. Each replaces the shipped entry of that name or adds a model. */
      overrides: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelPrice }), {
        default: () => ({})
      })
    }),
    { default: () => ({ overrides: {} }) }
  ),
  tokenizer: Schema.optionalWith(
    Schema.Struct({
      /** Maximum prompt length, in characters, counted on the event loop. Longer prompts are counted on a worker thread. */
      inlineMaxChars: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), {
        default: () => TokenCounter.DEFAULT_INLINE_MAX_CHARS
      }),
      /** Number of worker threads that count long prompts. */
      workers: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => DEFAULT_WORKERS })
    }),
    { default: () => ({ inlineMaxChars: TokenCounter.DEFAULT_INLINE_MAX_CHARS, workers: DEFAULT_WORKERS }) }
  ),
  /**
   * Whether to estimate prompt tokens before each request as `promptTokensEstimate`.
   * A prompt up to `tokenizer.inlineMaxChars` is counted when a plugin first
   * reads the estimate, and a longer one at once, on a worker.
   */
  estimatePromptTokens: Schema.optionalWith(Schema.Boolean, { default: () => true })
})
export type AnalyzerConfig = typeof AnalyzerConfig.Type

export default definePlugin({
  name: "@fluxen/analyzer",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: AnalyzerConfig,
  layer: (config) =>
    Layer.scoped(
      Plugin,
      Effect.gen(function* () {
        const host = yield* PluginHost
        const counter = yield* TokenCounter.TokenCounter
        const runtime = yield* Effect.runtime<never>()

        const pricingFile = yield* loadShippedPricing
        const pricing = makePricingTable(pricingFile, config.pricing.overrides)
        yield* Effect.logInfo("Analyzer started").pipe(
          Effect.annotateLogs({
            plugin: host.instanceName,
            "pricing.version": pricing.version,
            "pricing.models": pricing.models.size,
            "tokenizer.workers": config.tokenizer.workers
          })
        )

        return {
          hooks: makeRequestHooks({
            pluginName: host.instanceName,
            pricing,
            counter,
            estimatePromptTokens: config.estimatePromptTokens,
            runtime
          })
        }
      })
    ).pipe(Layer.provide(TokenCounter.layer(config.tokenizer)))
})
