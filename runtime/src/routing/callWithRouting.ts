/**
 * Calling a provider under a route plan: deployments in the plan's order,
 * retries with backoff on retryable failures, then the fallback models.
 * Everything here happens before the first byte reaches the client; once a
 * provider answered, its result is final.
 */
import { isGatewayError, type CancelNotice, type GatewayError, type ProviderResult } from "@fluxen/sdk"
import type { Effect } from "effect"
import type { Deployment, ModelRouter, RoutePlan } from "./ModelRouter.js"
import { orderDeployments } from "./orderDeployments.js"
import { isRetryable, retryDelayMs } from "./retryPolicy.js"

export interface RoutedResult {
  readonly result: ProviderResult
  readonly deployment: Deployment
  /** Attempts made, counting the successful one. */
  readonly attempts: number
}

/**
 * The operations the routing loop delegates to the pipeline: running attempts, waiting and
 * logging. They are the same for every request, which passes its own cancellation.
 */
export interface RoutingEffects {
  /** Runs one attempt. Rejects with its `GatewayError`, or with anything else when the attempt died or was interrupted. */
  readonly attempt: (effect: Effect.Effect<ProviderResult, GatewayError>, cancel: CancelNotice) => Promise<ProviderResult>
  /** Waits before a retry, and rejects when the request is cancelled meanwhile. */
  readonly sleep: (ms: number, cancel: CancelNotice) => Promise<void>
  readonly logInfo: (message: string, annotations: Readonly<Record<string, unknown>>) => void
  readonly logWarning: (message: string, annotations: Readonly<Record<string, unknown>>) => void
}

export const callWithRouting = async (
  router: ModelRouter,
  plan: RoutePlan,
  firstOrder: ReadonlyArray<Deployment>,
  invoke: (deployment: Deployment) => Effect.Effect<ProviderResult, GatewayError>,
  requestId: string,
  effects: RoutingEffects,
  /** The client's leaving. A failure after it is the cancellation's, not the deployment's. */
  cancel: CancelNotice,
  /**
   * Whether the outcome counts toward the deployment's health (cooldowns and
   * latency averages). A token count does not, because it is often estimated
   * without an upstream call, and Anthropic rate-limits it apart from messages.
   */
  recordHealth = true
): Promise<RoutedResult> => {
  const health = router.health
  // The fallback plans, resolved only once the first plan has failed: most calls succeed at once.
  let fallbacks: Array<RoutePlan> | undefined
  const fallbackPlans = (): Array<RoutePlan> => {
    if (fallbacks === undefined) {
      fallbacks = []
      for (const fallback of plan.fallbacks) {
        const resolved = router.resolve(fallback)
        if (resolved._tag === "Right") fallbacks.push(resolved.right)
      }
    }
    return fallbacks
  }

  let attempts = 0
  let lastError: GatewayError | undefined
  for (let planIndex = 0; planIndex === 0 || planIndex <= fallbackPlans().length; planIndex++) {
    const current = planIndex === 0 ? plan : fallbackPlans()[planIndex - 1]!
    const order = planIndex === 0 ? firstOrder : orderDeployments(current, health, Date.now())
    for (let index = 0; index < order.length; index++) {
      const deployment = order[index]!
      for (let retry = 0; retry <= current.retry.attempts; retry++) {
        attempts++
        const started = performance.now()
        let error: GatewayError
        try {
          const result = await effects.attempt(invoke(deployment), cancel)
          if (recordHealth) health.recordSuccess(deployment.id, performance.now() - started)
          return { result, deployment, attempts }
        } catch (failure) {
          // A defect, an interruption or a cancelled call ends the request as it is, and
          // does not count against the deployment's health.
          if (!isGatewayError(failure) || cancel.cancelled()) throw failure
          error = failure
        }

        lastError = error
        if (!isRetryable(error)) throw error
        if (recordHealth && health.recordFailure(deployment.id, Date.now())) {
          effects.logWarning("Deployment put in cooldown after repeated failures", {
            "request.id": requestId,
            provider: deployment.provider,
            model: deployment.upstreamModel
          })
        }
        if (retry === current.retry.attempts) break
        const delay = retryDelayMs(error, retry, current.retry, Date.now())
        if (delay === undefined) break
        effects.logInfo("Retrying the upstream call", {
          "request.id": requestId,
          provider: deployment.provider,
          model: deployment.upstreamModel,
          error: error._tag,
          "retry.delay_ms": delay
        })
        await effects.sleep(delay, cancel)
      }
      if (order.length > 1 || fallbackPlans().length > 0) {
        effects.logInfo("Falling back to the next deployment", {
          "request.id": requestId,
          provider: deployment.provider,
          model: deployment.upstreamModel,
          error: lastError?._tag ?? ""
        })
      }
    }
  }
  throw lastError!
}
