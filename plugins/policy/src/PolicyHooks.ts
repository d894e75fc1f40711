/**
 * The policy's request hooks.
 *
 * `beforeRequest`: authenticate the key, check the model against the key's
 * allow-list, then admit the request against every applicable rate limit and
 * budget at once, reserving its estimated cost. A token count
 * (`/v1/messages/count_tokens`) gets the key checks only. A refusal fails the
 * request before any upstream call.
 *
 * `afterUsage`: release the reservation, add the request's real cost to the
 * spent counters, and correct the token rate limits with the real token
 * count. It reads the cost the analyzer recorded, so `@fluxen/analyzer` must
 * be listed before this plugin under `plugins:`; its `beforeRequest` also
 * supplies the prompt token estimate.
 *
 * `listModels`: authenticate the key as `beforeRequest` does, and list only
 * the models that the key's allow-list admits.
 */
import type { PricingTable } from "@fluxen/analyzer"
import {
  AuthenticationError,
  LimitExceededError,
  PermissionDeniedError,
  PluginError,
  type GatewayError,
  type HookDecision,
  type ListedModel,
  type RecordedUsage,
  type RequestContext,
  type RequestHeaders,
  type RequestHooks
} from "@fluxen/sdk"
import { Effect } from "effect"
import { hashKey, isPlausibleKey, keyFromHeaders } from "./ApiKey.js"
import { rateCounterKey, type ApplicableLimits } from "./ApplicableLimits.js"
import { describeOwner, type BudgetAlerts } from "./BudgetAlerts.js"
import type { BudgetEntry, BudgetLedger } from "./BudgetLedger.js"
import { estimateRequest, type RequestEstimate } from "./Estimate.js"
import type { KeyResolver, ResolvedKey } from "./KeyResolver.js"
import { fromNanos, modelMatches, toNanos, type ApplicableBudget, type ApplicableRate } from "./Limits.js"
import type { CrossedThreshold, LimitStore, LimitStoreError, RateCheck } from "./LimitStore.js"
import { makeOncePerSubjectWarning, makeThrottledWarning } from "./LogLimits.js"
import { periodAdjective } from "./Periods.js"
import type { PolicyConfig } from "./PolicyConfig.js"
import { refusalHeaders, writeRateLimitHeaders } from "./RateLimitHeaders.js"

/** The `context.attributes` entry in which `beforeRequest` leaves what `afterUsage` settles. */
export const TICKET_ATTRIBUTE = "@fluxen/policy/ticket"

/** The reservation and counts of one admitted request, kept until the request ends. */
interface AdmissionTicket {
  readonly budgets: ReadonlyArray<BudgetEntry>
  /** Token rate limits that counted the estimate. */
  readonly tokenRates: ReadonlyArray<ApplicableRate>
  readonly estimate: RequestEstimate
  /** False when the store failed and the request passed unchecked (fail mode `open`). */
  readonly reserved: boolean
}

export interface PolicyHooksOptions {
  readonly pluginName: string
  readonly config: PolicyConfig
  readonly resolver: KeyResolver
  readonly limits: ApplicableLimits
  readonly store: LimitStore
  readonly ledger: BudgetLedger
  readonly pricing: PricingTable
  readonly alerts: BudgetAlerts
  /** The outcome for requests while the store fails: `open` passes them unchecked, `closed` fails them with 429. */
  readonly storeFailMode: "open" | "closed"
  readonly now?: () => number
}

export interface PolicyStats {
  /** Requests admitted without checks because the store failed (fail mode `open`). */
  uncheckedAdmissions: number
  /** Admissions and settlements the store failed, or skipped while its circuit breaker was open. */
  storeFailures: number
}

// Seeding rounds per admission; a counter deleted between rounds (its period
// ended) needs one more.
const MAX_ADMISSION_ROUNDS = 3
// How long a client should wait when the store fails and the fail mode is `closed`.
const STORE_RETRY_AFTER_SECONDS = 1
const WARNING_INTERVAL_MS = 10_000

const formatUsd = (usd: number): string => `$${Number(usd.toFixed(6))}`

/** Whether a key's allow-list admits a model name as the client sends it, so the model list and chat requests agree. */
const keyAllowsModel = (key: ResolvedKey, model: string): boolean =>
  key.allowedModels === null || key.allowedModels.some((pattern) => modelMatches(pattern, model))

const missingKey = new AuthenticationError({
  message: "Missing API key. Send a Fluxen key in the 'Authorization: Bearer fx-...' header or the 'x-api-key' header."
})
const invalidKey = new AuthenticationError({
  message: "Invalid API key. Check the key you sent, or ask your Fluxen administrator for a new one."
})

export const makePolicyHooks = (options: PolicyHooksOptions) => {
  const { config, resolver, limits, store, ledger, pricing, alerts } = options
  const now = options.now ?? Date.now
  const stats: PolicyStats = { uncheckedAdmissions: 0, storeFailures: 0 }

  const warnGuessedPrompt = makeOncePerSubjectWarning(
    "No prompt token estimate was recorded before the policy hook, so the policy assumes 4 characters per token. List @fluxen/analyzer before @fluxen/policy under plugins."
  )
  const warnUnpriced = makeOncePerSubjectWarning(
    "A budget applies to a model without a price, so its estimated cost is 0. Add the model under pricing.overrides of the policy and the analyzer."
  )
  const warnMissingCost = makeOncePerSubjectWarning(
    "A request ended without a recorded cost, so its budgets were charged its estimate. List @fluxen/analyzer before @fluxen/policy and give the model a price."
  )
  // The fail mode is fixed for the plugin's lifetime, so each warning is built with the outcome it reports.
  const failsOpen = options.storeFailMode === "open"
  const warnAdmissionFailure = makeThrottledWarning(
    failsOpen
      ? "The limit store failed during admission, so the request passed without its rate limit and budget checks (redis.failMode: open)."
      : "The limit store failed during admission, so the request was rejected with 429 (redis.failMode: closed).",
    WARNING_INTERVAL_MS
  )
  const warnSettlementFailure = makeThrottledWarning(
    "The limit store failed during settlement, so the request's cost was not counted. Its reservation expires after redis.reservationTtlSeconds.",
    WARNING_INTERVAL_MS
  )
  const warnSeedFailure = makeThrottledWarning(
    failsOpen
      ? "Starting a budget counter from the usage table failed, so that budget is not checked for this request (redis.failMode: open)."
      : "Starting a budget counter from the usage table failed, so the request was rejected with 429 (redis.failMode: closed).",
    WARNING_INTERVAL_MS
  )

  // Annotations go on the warnings only: wrapping every hook call in
  // `Effect.annotateLogs` would cost more than the checks themselves.
  const annotations = (context: RequestContext) => ({
    plugin: options.pluginName,
    "request.id": context.requestId,
    model: context.route.requestedModel
  })

  // ---------------------------------------------------------------------------
  // Authentication
  // ---------------------------------------------------------------------------

  /**
   * Looks up a key by its hash. Static keys resolve without the database, so
   * only a key made through the admin API, or a hash that matches no static
   * key, reaches a database failure, which is logged and fails the calling
   * hook with a PluginError.
   */
  const lookUpKey = (
    hash: string,
    hook: "beforeRequest" | "listModels",
    logAnnotations: Record<string, string>
  ): Effect.Effect<ResolvedKey | undefined, GatewayError> =>
    resolver.resolve(hash).pipe(
      Effect.tapError((error) =>
        Effect.logError(
          "Looking up an API key in the database failed, so the request was rejected. Keys from the YAML keep working, but keys made through the admin API fail until the database responds."
        ).pipe(Effect.annotateLogs({ ...logAnnotations, error: error.message }))
      ),
      Effect.mapError(
        () =>
          new PluginError({
            plugin: options.pluginName,
            hook,
            message: "Fluxen could not check the API key because its database did not respond. Retry in a moment."
          })
      )
    )

  /** Returns why a found key may not be used at all (revoked, expired), or undefined when it may. */
  const keyStatusRefusal = (key: ResolvedKey): GatewayError | undefined => {
    if (key.revoked) return new AuthenticationError({ message: "The API key has been revoked." })
    if (key.expiresAtMs !== null && key.expiresAtMs <= now()) {
      return new AuthenticationError({ message: `The API key expired at ${new Date(key.expiresAtMs).toISOString()}.` })
    }
    return undefined
  }

  /** Returns why a found key may not be used for `model`, or undefined when it may. */
  const keyRefusal = (key: ResolvedKey | undefined, model: string): GatewayError | undefined => {
    if (key === undefined) return invalidKey
    const refusal = keyStatusRefusal(key)
    if (refusal !== undefined) return refusal
    if (!keyAllowsModel(key, model)) {
      return new PermissionDeniedError({ message: `The API key '${key.name}' is not allowed to use the model '${model}'.` })
    }
    return undefined
  }

  // ---------------------------------------------------------------------------
  // Admission
  // ---------------------------------------------------------------------------

  const overBudget = (entry: BudgetEntry, spentNanos: number, reservedNanos: number) =>
    new LimitExceededError({
      kind: "quota",
      message:
        `The ${periodAdjective[entry.window.period]} budget of ${describeOwner(entry.budget)} has no room for this request: ` +
        `limit ${formatUsd(entry.budget.limit.limitUsd)}, spent ${formatUsd(fromNanos(spentNanos))}, ` +
        `reserved by requests in progress ${formatUsd(fromNanos(reservedNanos))}, this request's estimate ${formatUsd(fromNanos(entry.check.estimateNanos))}. ` +
        `The budget resets at ${new Date(entry.window.endMs).toISOString()}.`
    })

  /** The current time for Anthropic's rate limit headers on Anthropic's routes, undefined on the others. */
  const anthropicHeaderTime = (context: RequestContext): number | undefined =>
    context.endpoint === "messages" || context.endpoint === "count_tokens" ? now() : undefined

  const rateLimited = (context: RequestContext, rate: ApplicableRate, retryAfterMs: number) =>
    new LimitExceededError({
      kind: "rate_limit",
      message: `Rate limit reached: ${describeOwner(rate)} allows ${rate.perMinute} ${rate.unit} per minute. Retry in ${Math.ceil(retryAfterMs / 1_000)} s.`,
      retryAfterSeconds: retryAfterMs / 1_000,
      headers: refusalHeaders(rate, retryAfterMs, anthropicHeaderTime(context))
    })

  const cannotCheck = () =>
    new LimitExceededError({
      kind: "rate_limit",
      message: "Fluxen cannot check rate limits and budgets right now because its limit store does not respond. Retry in a moment.",
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS
    })

  // A request larger than a token limit's whole minute can never pass, so waiting would not help.
  const tooLarge = (context: RequestContext, rate: ApplicableRate, tokens: number) =>
    new LimitExceededError({
      kind: "rate_limit",
      message: `This request is estimated at ${tokens} tokens, more than the ${rate.perMinute} tokens per minute that ${describeOwner(rate)} allows. Lower max_tokens or shorten the prompt.`,
      headers: refusalHeaders(rate, 0, anthropicHeaderTime(context))
    })

  const storeUnavailable = (context: RequestContext, error: LimitStoreError, ticket: AdmissionTicket): Effect.Effect<void, GatewayError> => {
    stats.storeFailures++
    const warning = warnAdmissionFailure({
      ...annotations(context),
      "redis.fail_mode": options.storeFailMode,
      "error.reason": error.reason,
      error: error.message
    })
    if (options.storeFailMode === "closed") return Effect.zipRight(warning, Effect.fail(cannotCheck()))
    stats.uncheckedAdmissions++
    context.attributes.set(TICKET_ATTRIBUTE, ticket)
    return warning
  }

  /** Seeds the counters that do not exist yet; returns the entries whose seeding failed. */
  const seedCounters = (context: RequestContext, entries: ReadonlyArray<BudgetEntry>) =>
    Effect.forEach(entries, (entry) =>
      ledger.seed(entry).pipe(
        Effect.as(undefined),
        Effect.catchAll((error) =>
          Effect.as(
            warnSeedFailure({ ...annotations(context), "budget.scope": entry.budget.scope, "budget.name": entry.budget.name, error: error.message }),
            entry
          )
        )
      )
    ).pipe(Effect.map((failed) => new Set(failed.filter((entry) => entry !== undefined))))

  /**
   * Admits the request through the store. When budget counters are missing,
   * seeds them and tries again, up to {@link MAX_ADMISSION_ROUNDS} times.
   */
  const admitRound = (
    context: RequestContext,
    entries: ReadonlyArray<BudgetEntry>,
    rates: ReadonlyArray<ApplicableRate>,
    rateChecks: ReadonlyArray<RateCheck>,
    estimate: RequestEstimate,
    round: number
  ): Effect.Effect<void, GatewayError> => {
    const tokenRates = rates.filter((rate) => rate.unit === "tokens")
    if (round >= MAX_ADMISSION_ROUNDS) {
      // Counters that keep disappearing: pass the request and keep its spend.
      context.attributes.set(TICKET_ATTRIBUTE, { budgets: entries, tokenRates, estimate, reserved: false } satisfies AdmissionTicket)
      return Effect.void
    }
    const request = { reservationId: context.requestId, rates: rateChecks, budgets: entries.map((entry) => entry.check) }
    // The ticket is left in the same uninterruptible step as the reservation,
    // so a client that disconnects meanwhile does not strand the reservation.
    // NOTE: the runtime does not wait for an interrupted hook fiber, so its
    // afterUsage may run before a Redis reply sets the ticket. That
    // reservation then counts until `redis.reservationTtlSeconds` passes.
    const admission = Effect.uninterruptible(
      Effect.tap(store.admit(request), (outcome) => {
        if (outcome._tag === "Admitted") {
          context.attributes.set(TICKET_ATTRIBUTE, { budgets: entries, tokenRates, estimate, reserved: true } satisfies AdmissionTicket)
        }
      })
    )
    return Effect.matchEffect(admission, {
      onFailure: (error) => storeUnavailable(context, error, { budgets: entries, tokenRates, estimate, reserved: false }),
      onSuccess: (outcome): Effect.Effect<void, GatewayError> => {
        switch (outcome._tag) {
          case "Admitted":
            writeRateLimitHeaders(context.responseHeaders, rates, outcome.rates, anthropicHeaderTime(context))
            return Effect.void
          case "OverBudget":
            return Effect.fail(overBudget(entries[outcome.budget]!, outcome.spentNanos, outcome.reservedNanos))
          case "RateLimited":
            return Effect.fail(rateLimited(context, rates[outcome.rate]!, outcome.retryAfterMs))
          case "Unseeded":
            return Effect.flatMap(seedCounters(context, outcome.budgets.map((index) => entries[index]!)), (failed) =>
              failed.size > 0 && options.storeFailMode === "closed"
                ? Effect.fail(cannotCheck())
                : admitRound(
                context,
                failed.size === 0 ? entries : entries.filter((entry) => !failed.has(entry)),
                rates,
                rateChecks,
                estimate,
                round + 1
              )
            )
        }
      }
    })
  }

  /**
   * Applies the request-rate limits of a token count's key, team and model.
   * A count has no cost or output to reserve, so budgets and token-rate
   * limits leave it alone. Request rates still apply, because each count
   * costs the gateway a tokenization or an upstream call.
   */
  const admitCount = (context: RequestContext, key: ResolvedKey | undefined): Effect.Effect<HookDecision, GatewayError> => {
    const { rates, rateKeys } = limits.forRequest({
      key,
      requestedModel: context.route.requestedModel,
      upstreamModel: context.route.upstreamModel
    })
    const requestRates: Array<(typeof rates)[number]> = []
    const rateChecks: Array<RateCheck> = []
    rates.forEach((rate, index) => {
      if (rate.unit !== "requests") return
      requestRates.push(rate)
      rateChecks.push({ key: rateKeys[index]!, perMinute: rate.perMinute, cost: 1 })
    })
    if (rateChecks.length === 0) return Effect.succeed(undefined)
    const estimate = estimateRequest(context, pricing, config.defaultMaxOutputTokens)
    return Effect.as(admitRound(context, [], requestRates, rateChecks, estimate, 0), undefined)
  }

  /**
   * Applies the budgets and rate limits of the request's key, team and model.
   * The key checks before this step apply to every request.
   */
  const admit = (context: RequestContext, key: ResolvedKey | undefined): Effect.Effect<HookDecision, GatewayError> => {
    if (context.endpoint === "count_tokens") return admitCount(context, key)
    const { budgets, rates, rateKeys } = limits.forRequest({
      key,
      requestedModel: context.route.requestedModel,
      upstreamModel: context.route.upstreamModel
    })
    if (budgets.length === 0 && rates.length === 0) return Effect.succeed(undefined)

    const estimate = estimateRequest(context, pricing, config.defaultMaxOutputTokens)
    for (const rate of rates) {
      if (rate.unit === "tokens" && estimate.tokens > rate.perMinute) return Effect.fail(tooLarge(context, rate, estimate.tokens))
    }
    if (budgets.length > 0 && !estimate.priced && config.unpricedModels === "reject") {
      return Effect.fail(
        new PermissionDeniedError({
          message: `The model '${context.route.requestedModel}' has no price, so its budget cannot be enforced, and this gateway rejects such requests.`
        })
      )
    }

    const nowMs = now()
    const entries = budgets.map((budget) => ledger.entryOf(budget, nowMs, estimate.costNanos))
    const rateChecks: Array<RateCheck> = rates.map((rate, index) => ({
      key: rateKeys[index]!,
      perMinute: rate.perMinute,
      cost: rate.unit === "requests" ? 1 : estimate.tokens
    }))
    let admission = admitRound(context, entries, rates, rateChecks, estimate, 0)
    if (estimate.promptGuessed) {
      admission = Effect.zipRight(warnGuessedPrompt(context.endpoint, { ...annotations(context), endpoint: context.endpoint }), admission)
    }
    if (budgets.length > 0 && !estimate.priced) {
      admission = Effect.zipRight(warnUnpriced(context.route.upstreamModel, annotations(context)), admission)
    }
    return Effect.as(admission, undefined)
  }

  const authorize = (context: RequestContext, key: ResolvedKey | undefined): Effect.Effect<HookDecision, GatewayError> => {
    // A known key is named on its request's usage record even when refused, so that the
    // records show which key tried a model it may not use, or used a revoked key.
    if (key !== undefined) {
      context.caller.keyId = key.id
      context.caller.team = key.team
      Object.assign(context.caller.metadata, key.metadata)
    }
    const refusal = keyRefusal(key, context.route.requestedModel)
    if (refusal !== undefined) return Effect.fail(refusal)
    return admit(context, key)
  }

  // Written without Effect.gen: a cached key and the in-memory store make
  // this path synchronous, and each Effect step costs microseconds.
  const beforeRequest = (context: RequestContext): Effect.Effect<HookDecision, GatewayError> => {
    const presented = keyFromHeaders(context.headers)
    if (presented === undefined) return config.requireKey ? Effect.fail(missingKey) : admit(context, undefined)
    if (!isPlausibleKey(presented)) return Effect.fail(invalidKey)

    const hash = hashKey(presented)
    const cached = resolver.cached(hash)
    if (cached !== undefined) return authorize(context, cached.key)
    return Effect.flatMap(lookUpKey(hash, "beforeRequest", annotations(context)), (key) => authorize(context, key))
  }

  // ---------------------------------------------------------------------------
  // Model list
  // ---------------------------------------------------------------------------

  /**
   * Checks the key as `beforeRequest` does, then keeps the models the key may
   * use. A request without a key gets every model when keys are optional.
   */
  const listModels = (headers: RequestHeaders, models: ReadonlyArray<ListedModel>): Effect.Effect<ReadonlyArray<ListedModel>, GatewayError> => {
    const presented = keyFromHeaders(headers)
    if (presented === undefined) return config.requireKey ? Effect.fail(missingKey) : Effect.succeed(models)
    if (!isPlausibleKey(presented)) return Effect.fail(invalidKey)

    return Effect.flatMap(lookUpKey(hashKey(presented), "listModels", { plugin: options.pluginName }), (key) => {
      if (key === undefined) return Effect.fail(invalidKey)
      const refusal = keyStatusRefusal(key)
      if (refusal !== undefined) return Effect.fail(refusal)
      return Effect.succeed(models.filter((model) => keyAllowsModel(key, model.id)))
    })
  }

  // ---------------------------------------------------------------------------
  // Settlement
  // ---------------------------------------------------------------------------

  /**
   * The cost charged to the budgets, which is the recorded cost when there is
   * one. Without it, a request that succeeded is charged its estimate, and
   * one that failed or was cancelled is charged 0.
   */
  const chargedNanos = (ticket: AdmissionTicket, recorded: RecordedUsage): number => {
    if (recorded.costUsd !== null) return toNanos(recorded.costUsd)
    return recorded.status === "ok" ? ticket.estimate.costNanos : 0
  }

  const usedTokens = (ticket: AdmissionTicket, recorded: RecordedUsage): number => {
    if (recorded.usage !== undefined) return recorded.usage.promptTokens + recorded.usage.completionTokens
    return recorded.status === "ok" ? ticket.estimate.tokens : 0
  }

  const reportThresholds = (ticket: AdmissionTicket, crossed: ReadonlyArray<CrossedThreshold>): Effect.Effect<void> =>
    crossed.length === 0
      ? Effect.void
      : Effect.forEach(
          crossed,
          (threshold) => {
            const entry = ticket.budgets[threshold.budget]!
            return alerts.thresholdReached({
              budget: entry.budget,
              window: entry.window,
              fraction: threshold.fraction,
              spentUsd: fromNanos(threshold.spentNanos)
            })
          },
          { discard: true }
        )

  const afterUsage = (context: RequestContext, recorded: RecordedUsage): Effect.Effect<void> => {
    const ticket = context.attributes.get(TICKET_ATTRIBUTE) as AdmissionTicket | undefined
    if (ticket === undefined) return Effect.void
    context.attributes.delete(TICKET_ATTRIBUTE)

    const actualNanos = chargedNanos(ticket, recorded)
    const countedTokens = ticket.reserved ? ticket.estimate.tokens : 0
    const delta = usedTokens(ticket, recorded) - countedTokens
    if (ticket.budgets.length === 0 && (ticket.tokenRates.length === 0 || delta === 0)) return Effect.void

    const settlement = store
      .settle({
        reservationId: context.requestId,
        budgets: ticket.budgets.map((entry) => ({
          key: entry.check.key,
          releaseNanos: ticket.reserved ? entry.check.estimateNanos : 0,
          actualNanos,
          limitNanos: entry.check.limitNanos,
          expiresAtMs: entry.check.expiresAtMs,
          warnAt: entry.budget.warnAt
        })),
        rates: delta === 0 ? [] : ticket.tokenRates.map((rate) => ({ key: rateCounterKey(rate), perMinute: rate.perMinute, delta }))
      })
      .pipe(
        Effect.flatMap((crossed) => reportThresholds(ticket, crossed)),
        Effect.catchAll((error) => {
          stats.storeFailures++
          return warnSettlementFailure({ ...annotations(context), "error.reason": error.reason, error: error.message })
        })
      )
    const missingCost = recorded.costUsd === null && recorded.status === "ok" && ticket.budgets.length > 0
    return missingCost ? Effect.zipRight(warnMissingCost(context.route.upstreamModel, annotations(context)), settlement) : settlement
  }

  const hooks: RequestHooks = { beforeRequest, afterUsage, listModels }
  return { hooks, stats }
}
