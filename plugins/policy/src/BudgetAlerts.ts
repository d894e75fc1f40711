/**
 * Soft budget limits: when a budget's spend reaches one of its `warnAt`
 * fractions for the first time in a period, a warning is logged and, with a
 * `webhookUrl`, a JSON POST is sent. With Redis, "first time" applies across
 * instances, because the settlement script records each reported fraction.
 */
import { HttpTransport } from "@fluxen/sdk"
import { Effect } from "effect"
import type { ApplicableBudget } from "./Limits.js"
import { periodAdjective, type PeriodWindow } from "./Periods.js"

const WEBHOOK_TIMEOUT_MS = 10_000

export interface ThresholdEvent {
  readonly budget: ApplicableBudget
  readonly window: PeriodWindow
  readonly fraction: number
  readonly spentUsd: number
}

export interface BudgetAlerts {
  /** Logs the event and starts the webhook call without waiting for it. */
  readonly thresholdReached: (event: ThresholdEvent) => Effect.Effect<void>
}

const percent = (fraction: number): string => `${Math.round(fraction * 100)}%`

/**
 * Returns the warning for a threshold. It gives the spend too, because one
 * costly request can carry a budget past several thresholds, or past its
 * limit, at once.
 */
export const thresholdMessage = (event: ThresholdEvent): string => {
  const limitUsd = event.budget.limit.limitUsd
  const spent = `$${Number(event.spentUsd.toFixed(6))} of $${Number(limitUsd.toFixed(6))}`
  return (
    `The ${periodAdjective[event.window.period]} budget of ${describeOwner(event.budget)} passed ${percent(event.fraction)} of its limit: ` +
    `${spent} spent (${percent(event.spentUsd / limitUsd)}).`
  )
}

/** The webhook's JSON body. */
export const webhookPayload = (event: ThresholdEvent) => ({
  type: "fluxen.budget.threshold_reached",
  scope: event.budget.scope,
  name: event.budget.scope === "global" ? null : event.budget.name,
  period: event.window.period,
  period_start: new Date(event.window.startMs).toISOString(),
  period_end: new Date(event.window.endMs).toISOString(),
  threshold: event.fraction,
  limit_usd: event.budget.limit.limitUsd,
  spent_usd: event.spentUsd
})

export const makeBudgetAlerts = (options: { readonly webhookUrl: string | undefined; readonly pluginName: string }) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const scope = yield* Effect.scope

    const postWebhook = (url: string, event: ThresholdEvent) =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await transport.send({
            provider: "policy-webhook",
            method: "POST",
            url,
            headers: { "content-type": "application/json" },
            body: JSON.stringify(webhookPayload(event)),
            signal,
            idleTimeoutMs: WEBHOOK_TIMEOUT_MS
          })
          response.discard()
          return response.status
        },
        catch: (cause) => cause
      }).pipe(
        Effect.flatMap((status) =>
          status >= 200 && status < 300
            ? Effect.void
            : Effect.logWarning("The budget webhook returned an error status.").pipe(Effect.annotateLogs({ "http.status": status }))
        ),
        Effect.catchAll((cause) =>
          Effect.logWarning("Sending the budget webhook failed.").pipe(Effect.annotateLogs({ error: String(cause) }))
        )
      )

    const thresholdReached = (event: ThresholdEvent): Effect.Effect<void> => {
      const log = Effect.logWarning(thresholdMessage(event)).pipe(
        Effect.annotateLogs({
          plugin: options.pluginName,
          "budget.scope": event.budget.scope,
          "budget.name": event.budget.name,
          "budget.period_start": new Date(event.window.startMs).toISOString(),
          "budget.limit_usd": event.budget.limit.limitUsd,
          "budget.spent_usd": event.spentUsd
        })
      )
      if (options.webhookUrl === undefined) return log
      const post = postWebhook(options.webhookUrl, event).pipe(Effect.annotateLogs({ plugin: options.pluginName }))
      return Effect.zipRight(log, Effect.asVoid(Effect.forkIn(post, scope)))
    }

    const alerts: BudgetAlerts = { thresholdReached }
    return alerts
  })

/** Names a budget's owner for messages: "the key 'x'", "the team 'y'", "the model 'z'", "the gateway". */
export const describeOwner = (owner: { readonly scope: string; readonly name: string }): string =>
  owner.scope === "global" ? "the gateway" : `the ${owner.scope} '${owner.name}'`
