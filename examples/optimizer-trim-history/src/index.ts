/**
 * A Fluxen optimizer plugin that trims chat history to fit the model's
 * prompt budget before the request goes upstream, written as a third-party
 * package: it imports only `@fluxen/sdk`, `effect` and `gpt-tokenizer`.
 */
import { definePlugin, Plugin, PluginHost, SDK_API_VERSION, type ChatRequest, type RequestContext, type RequestHooks } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"
import { countFixedTokens, countMessageTokens } from "./countTokens.js"
import { trimHistory } from "./trimHistory.js"

const TokenCount = Schema.Int.pipe(Schema.positive())

export const TrimHistoryConfig = Schema.Struct({
  /** The prompt budget, in tokens, for models without an entry in `models`. */
  maxPromptTokens: TokenCount,
  /**
   * Prompt budgets by model name. A request's public model name (the key
   * under `models:` in fluxen.yaml) is looked up first, then its upstream name.
   */
  models: Schema.optionalWith(Schema.Record({ key: Schema.String, value: TokenCount }), { default: () => ({}) })
})
export type TrimHistoryConfig = typeof TrimHistoryConfig.Type

/** The response header that reports how many messages were dropped. */
export const TRIMMED_HEADER = "x-fluxen-trimmed-messages"

/** The `RequestContext.attributes` key under which the number of dropped messages is stored. */
export const TRIMMED_ATTRIBUTE = "@example/fluxen-optimizer-trim-history/removedMessages"

export { countFixedTokens, countMessageTokens } from "./countTokens.js"
export { trimHistory, type TrimResult } from "./trimHistory.js"

/** Creates the hooks; only chat requests are trimmed. */
export const makeTrimHistoryHooks = (config: TrimHistoryConfig, pluginName: string): RequestHooks => ({
  beforeRequest: (context: RequestContext) =>
    Effect.gen(function* () {
      if (context.endpoint !== "chat") return undefined
      const request = context.request as ChatRequest
      const budget = config.models[context.route.requestedModel] ?? config.models[context.route.upstreamModel] ?? config.maxPromptTokens

      const result = trimHistory(request.messages, budget, countMessageTokens, countFixedTokens(request.tools ?? undefined))
      const annotations = {
        plugin: pluginName,
        "request.id": context.requestId,
        model: context.route.requestedModel,
        "trim.budget": budget,
        "trim.tokens_before": result.tokensBefore,
        "trim.tokens_after": result.tokensAfter
      }
      if (result.overBudget) {
        yield* Effect.logWarning("The latest turn alone exceeds the prompt budget; it is sent untrimmed").pipe(Effect.annotateLogs(annotations))
      }
      if (result.removed === 0) return undefined

      context.request = { ...request, messages: result.messages }
      context.responseHeaders[TRIMMED_HEADER] = String(result.removed)
      context.attributes.set(TRIMMED_ATTRIBUTE, result.removed)
      yield* Effect.logInfo("Trimmed conversation history").pipe(Effect.annotateLogs({ ...annotations, "trim.removed_messages": result.removed }))
      return undefined
    })
})

export default definePlugin({
  name: "@example/fluxen-optimizer-trim-history",
  version: "0.1.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: TrimHistoryConfig,
  layer: (config) =>
    Layer.effect(
      Plugin,
      Effect.gen(function* () {
        const host = yield* PluginHost
        return { hooks: makeTrimHistoryHooks(config, host.instanceName) }
      })
    )
})
