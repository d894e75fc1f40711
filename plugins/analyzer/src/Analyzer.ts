/**
 * The analyzer's request hooks: a prompt token estimate before the call, and
 * after it the cost of the usage, written to the request's usage record.
 */
import type { Outcome, RecordFields, RequestContext, RequestHooks, Usage } from "@fluxen/sdk"
import { Effect, Runtime } from "effect"
import { costOf, lacksCacheWrite1hPrice, lookupPrice, type PricingTable } from "./Pricing.js"
import { estimatedEndpoints, promptTextOf, type PromptText } from "@fluxen/sdk/tokens"
import type { TokenCountError, TokenCounterService } from "./TokenCounter.js"

export interface AnalyzerOptions {
  /** The plugin instance name, for log annotations. */
  readonly pluginName: string
  readonly pricing: PricingTable
  readonly counter: TokenCounterService
  /** Whether `beforeRequest` counts prompt tokens. */
  readonly estimatePromptTokens: boolean
  /** The runtime that logs a count failure found when a deferred estimate is read. */
  readonly runtime: Runtime.Runtime<never>
}

// Bounds the memory spent on model names already warned about, because
// `provider/model` routing lets clients send any name. Past the bound,
// further unpriced models are not logged.
const MAX_WARNED_MODELS = 1000

const isCacheHit = (context: RequestContext): boolean =>
  context.record.cacheStatus === "hit" || context.record.cacheStatus === "semantic-hit"

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null

/**
 * Collects the generated text of a JSON chat or completions body: each
 * choice's `message.content`, tool call arguments and `text`.
 */
const responseTexts = (response: unknown): Array<string> => {
  const texts: Array<string> = []
  if (!isRecord(response) || !Array.isArray(response.choices)) return texts
  for (const choice of response.choices) {
    if (!isRecord(choice)) continue
    if (typeof choice.text === "string") texts.push(choice.text)
    const message = choice.message
    if (!isRecord(message)) continue
    if (typeof message.content === "string") texts.push(message.content)
    if (!Array.isArray(message.tool_calls)) continue
    for (const call of message.tool_calls) {
      if (isRecord(call) && isRecord(call.function) && typeof call.function.arguments === "string") {
        texts.push(call.function.arguments)
      }
    }
  }
  return texts
}

/** A prompt estimate that is counted when first read (see `deferEstimate`). */
interface PendingEstimate {
  readonly model: string
  readonly prompt: PromptText
  readonly context: RequestContext
}

// One key for all analyzer instances, because a record has one estimate. The instance that
// deferred it last owns the accessor and the pending count, and the first count settles it for all.
const pendingKey: unique symbol = Symbol("@fluxen/analyzer/pendingEstimate")

type PendingRecord = RecordFields & { readonly [pendingKey]?: PendingEstimate }

/** Builds the hooks of one plugin instance. */
export const makeRequestHooks = (options: AnalyzerOptions): RequestHooks => {
  const { counter, pricing } = options

  // Log annotations are added where a warning is logged, not around every
  // hook call, because annotating costs more than the hook's usual work.
  const annotate = (context: RequestContext) =>
    Effect.annotateLogs({
      plugin: options.pluginName,
      model: context.route.upstreamModel,
      "request.id": context.requestId
    })

  const logCountFailure = (context: RequestContext, countedPart: "prompt" | "completion") => (error: TokenCountError) =>
    Effect.logWarning(`Counting ${countedPart} tokens failed, so no estimate is recorded.`).pipe(
      Effect.annotateLogs({ "error.reason": error.reason, "error.message": error.message }),
      annotate(context),
      Effect.as(undefined)
    )

  /** Counts the tokens of a prompt, or returns undefined when counting fails. */
  const countPrompt = (context: RequestContext, prompt: PromptText): Effect.Effect<number | undefined> =>
    counter.count(context.route.upstreamModel, prompt.texts).pipe(
      Effect.map((tokens) => tokens + prompt.fixedTokens),
      Effect.catchAll(logCountFailure(context, "prompt"))
    )

  /** Estimates the prompt tokens, or returns undefined for endpoints it cannot read and when counting fails. */
  const estimatePrompt = (context: RequestContext): Effect.Effect<number | undefined> => {
    const prompt = promptTextOf(context.endpoint, context.request)
    return prompt === undefined ? Effect.succeed(undefined) : countPrompt(context, prompt)
  }

  const logNow = Runtime.runSync(options.runtime)

  /** Replaces the pending estimate of `record` with `value`, and returns `value`. */
  const settle = (record: PendingRecord, value: number | undefined): number | undefined => {
    Object.defineProperty(record, pendingKey, { value: undefined })
    Object.defineProperty(record, "promptTokensEstimate", { value, writable: true, enumerable: true, configurable: true })
    return value
  }

  const estimateProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: PendingRecord): number | undefined {
      const pending = this[pendingKey]!
      try {
        return settle(this, counter.countNow(pending.model, pending.prompt.texts)! + pending.prompt.fixedTokens)
      } catch (error) {
        logNow(logCountFailure(pending.context, "prompt")(error as TokenCountError))
        return settle(this, undefined)
      }
    },
    set(this: PendingRecord, value: number | undefined): void {
      settle(this, value)
    }
  }

  /**
   * Makes `promptTokensEstimate` a value counted when first read. Most
   * requests never read it, because the provider reports the usage, and
   * counting costs more than the rest of the analyzer's work. The prompt and
   * model are the ones of this call, whatever later hooks change.
   *
   * The accessor's getter and setter are shared by all records, and the
   * pending count waits on the record under a non-enumerable key. A getter
   * made per request or a WeakMap entry per request would keep the request's
   * objects alive until a full collection (see the SDK's `sharedGetter`).
   */
  const deferEstimate = (context: RequestContext, prompt: PromptText): void => {
    const pending: PendingEstimate = { model: context.route.upstreamModel, prompt, context }
    Object.defineProperty(context.record, pendingKey, { value: pending, writable: true, configurable: true })
    Object.defineProperty(context.record, "promptTokensEstimate", estimateProperty)
  }

  /** Returns the request's prompt estimate, counting it when no earlier hook did; undefined when counting fails. */
  const promptEstimate = (context: RequestContext): Effect.Effect<number | undefined> =>
    Effect.gen(function* () {
      // A deferred estimate is counted here as any later count is, on a worker until the event
      // loop's thread has the encoding, rather than by reading it, which would load it there.
      const pending = (context.record as PendingRecord)[pendingKey]
      if (pending !== undefined) {
        context.record.promptTokensEstimate = yield* counter.count(pending.model, pending.prompt.texts).pipe(
          Effect.map((tokens) => tokens + pending.prompt.fixedTokens),
          Effect.catchAll(logCountFailure(context, "prompt"))
        )
      }
      // Counted here when `estimatePromptTokens` is off or the earlier count failed.
      return context.record.promptTokensEstimate ?? (yield* estimatePrompt(context))
    })

  /**
   * Returns the usage that prices a semantic hit's saving: this request's
   * prompt estimate and the stored completion. The stored prompt tokens are
   * not used, because the stored prompt may be longer or shorter than this
   * one. No input is counted as cached or written to a provider cache,
   * because the call did not happen. Returns undefined when the prompt
   * cannot be counted.
   */
  const semanticHitUsage = (context: RequestContext, stored: Usage): Effect.Effect<Usage | undefined> =>
    Effect.map(promptEstimate(context), (promptTokens) =>
      promptTokens === undefined
        ? undefined
        : { promptTokens, completionTokens: stored.completionTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: stored.reasoningTokens }
    )

  /**
   * Estimates the usage of a request that a provider or a hook responded to,
   * when no usage was reported: the prompt estimate plus the tokens of the text
   * generated so far, so a cancelled stream records what it consumed. A request
   * without a provider's success response (a 429 before the client left, a
   * client timeout before the response headers) is not estimated, because
   * providers usually do not bill it. A failed request is estimated only when
   * its stream delivered text before failing, because the provider produced,
   * and likely billed, that text.
   */
  const estimateUsage = (context: RequestContext, outcome: Outcome): Effect.Effect<Usage | undefined> =>
    Effect.gen(function* () {
      // An outcome without `upstreamResponded`, built by code that predates it, is estimated.
      if (outcome.upstreamResponded === false && !outcome.answeredByHook) return undefined
      if (outcome.status === "error" && !(context.stream && outcome.streamedText !== "")) return undefined

      const promptTokens = yield* promptEstimate(context)
      // Without a prompt estimate no usage is recorded, rather than a usage whose prompt side reads 0.
      if (promptTokens === undefined) return undefined

      const generated = context.stream ? [outcome.streamedText] : responseTexts(outcome.response)
      const completionTokens = yield* counter.count(context.route.upstreamModel, generated).pipe(
        Effect.catchAll(logCountFailure(context, "completion"))
      )
      if (completionTokens === undefined) return undefined

      return { promptTokens, completionTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }
    })

  /**
   * Returns the usage of a stream that stopped before its end. A provider may report its
   * input early and its output only at the end, as Anthropic does: its adapter then reports
   * no output tokens until the end arrives. When the reported completion is 0 and the text
   * delivered counts more, that count replaces it, and the host records the result as
   * estimated. A provider that counts as it streams (Gemini) keeps its own figure.
   */
  const correctStoppedStream = (context: RequestContext, outcome: Outcome, reported: Usage): Effect.Effect<Usage> =>
    counter.count(context.route.upstreamModel, [outcome.streamedText]).pipe(
      Effect.catchAll(logCountFailure(context, "completion")),
      Effect.map((delivered) => {
        if (delivered === undefined || delivered <= reported.completionTokens) return reported
        const corrected = { ...reported, completionTokens: delivered }
        context.record.estimatedUsage = corrected
        return corrected
      })
    )

  /** Builds a warning that is logged once per model, for at most `MAX_WARNED_MODELS` models. */
  const warnOncePerModel = (message: string) => {
    const warnedModels = new Set<string>()
    return (context: RequestContext, model: string): Effect.Effect<void> => {
      if (warnedModels.has(model) || warnedModels.size >= MAX_WARNED_MODELS) return Effect.void
      warnedModels.add(model)
      return Effect.logWarning(message).pipe(annotate(context))
    }
  }

  const warnUnpriced = warnOncePerModel(
    "The model has no price, so its cost figures are recorded as null. Add its prices under config.pricing.overrides of the analyzer's entry in plugins."
  )

  const warnNoCacheWrite1hPrice = warnOncePerModel(
    "The model has no cacheWrite1h price, so its 1-hour cache writes are priced at its cacheWrite price. " +
      "Add the model under config.pricing.overrides of the analyzer's entry in plugins, with cacheWrite1h and its other prices, " +
      "because an override replaces the shipped prices of the model."
  )

  /**
   * Writes the cost fields. A cache hit cost nothing upstream: `costUsd` is 0
   * and `costSavedUsd` is what the call would have cost (null when unpriced).
   */
  const recordCost = (context: RequestContext, usage: Usage): Effect.Effect<void> => {
    const model = context.route.upstreamModel
    const price = lookupPrice(pricing, model)
    const cost = price === undefined ? null : costOf(usage, price)
    context.record.priceVersion = pricing.version

    if (isCacheHit(context)) {
      context.record.costUsd = 0
      context.record.costSavedUsd = cost
    } else {
      context.record.costUsd = cost
    }
    if (price === undefined) return warnUnpriced(context, model)
    return lacksCacheWrite1hPrice(usage, price) ? warnNoCacheWrite1hPrice(context, model) : Effect.void
  }

  return {
    beforeRequest: (context) => {
      if (!options.estimatePromptTokens || !estimatedEndpoints.has(context.endpoint)) return Effect.succeed(undefined)
      const prompt = promptTextOf(context.endpoint, context.request)
      if (prompt === undefined) return Effect.succeed(undefined)
      if (counter.fitsInline(prompt.texts)) {
        deferEstimate(context, prompt)
        return Effect.succeed(undefined)
      }
      // A long prompt is counted now, on a worker, so that reading the estimate does not count it on the event loop.
      return Effect.map(countPrompt(context, prompt), (estimate) => {
        if (estimate !== undefined) context.record.promptTokensEstimate = estimate
        return undefined
      })
    },

    afterResponse: (context, outcome) => {
      // Fluxen does not bill token counting, so a count that succeeded costs 0 rather than an unknown amount.
      if (context.endpoint === "count_tokens") {
        if (outcome.status === "ok") context.record.costUsd = 0
        return Effect.void
      }
      if (outcome.usage !== undefined && context.record.cacheStatus === "semantic-hit") {
        return Effect.flatMap(semanticHitUsage(context, outcome.usage), (usage) => {
          if (usage !== undefined) return recordCost(context, usage)
          // Without a prompt estimate the saving is unknown, so it is recorded as null rather than priced from the stored prompt.
          context.record.costUsd = 0
          context.record.costSavedUsd = null
          return Effect.void
        })
      }
      if (outcome.usage !== undefined) {
        const outputNotReported = context.stream && outcome.status !== "ok" && outcome.usage.completionTokens === 0 && outcome.streamedText !== ""
        if (!outputNotReported) return recordCost(context, outcome.usage)
        return Effect.flatMap(correctStoppedStream(context, outcome, outcome.usage), (usage) => recordCost(context, usage))
      }
      return Effect.flatMap(estimateUsage(context, outcome), (usage) => {
        if (usage === undefined) return Effect.void
        context.record.estimatedUsage = usage
        return recordCost(context, usage)
      })
    }
  }
}
