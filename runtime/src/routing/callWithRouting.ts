/**
 * Calling a provider under a route plan: deployments in the plan's order,
 * retries with backoff on retryable failures, then the fallback models.
 * Everything here happens before the first byte reaches the client; once a
 * provider answered, its result is final.
 */
import type { GatewayError, ProviderResult } from "@fluxen/sdk"
import { Effect } from "effect"
import type { Deployment, ModelRouter, RoutePlan } from "./ModelRouter.js"
import { orderDeployments } from "./orderDeployments.js"
import { isRetryable, retryDelayMs } from "./retryPolicy.js"

export interface RoutedResult {
  readonly result: ProviderResult
  readonly deployment: Deployment
  /** Attempts made, counting the successful one. */
  readonly attempts: number
}

export const callWithRouting = (
  router: ModelRouter,
  plan: RoutePlan,
  firstOrder: ReadonlyArray<Deployment>,
  invoke: (deployment: Deployment) => Effect.Effect<ProviderResult, GatewayError>,
  requestId: string
): Effect.Effect<RoutedResult, GatewayError> =>
  Effect.gen(function* () {
    const health = router.health
    const plans: Array<RoutePlan> = [plan]
    for (const fallback of plan.fallbacks) {
      const resolved = router.resolve(fallback)
      if (resolved._tag === "Right") plans.push(resolved.right)
    }

    let attempts = 0
    let lastError: GatewayError | undefined
    for (const [planIndex, current] of plans.entries()) {
      const order = planIndex === 0 ? firstOrder : orderDeployments(current, health, Date.now())
      for (const deployment of order) {
        for (let retry = 0; retry <= current.retry.attempts; retry++) {
          attempts++
          const started = performance.now()
          const outcome = yield* Effect.either(invoke(deployment))
          if (outcome._tag === "Right") {
            health.recordSuccess(deployment.id, performance.now() - started)
            return { result: outcome.right, deployment, attempts }
          }

          const error = outcome.left
          lastError = error
          if (!isRetryable(error)) return yield* Effect.fail(error)
          if (health.recordFailure(deployment.id, Date.now())) {
            yield* Effect.logWarning("Deployment put in cooldown after repeated failures").pipe(
              Effect.annotateLogs({ "request.id": requestId, provider: deployment.provider, model: deployment.upstreamModel })
            )
          }
          if (retry === current.retry.attempts) break
          const delay = retryDelayMs(error, retry, current.retry, Date.now())
          if (delay === undefined) break
          yield* Effect.logInfo("Retrying the upstream call").pipe(
            Effect.annotateLogs({
              "request.id": requestId,
              provider: deployment.provider,
              model: deployment.upstreamModel,
              error: error._tag,
              "retry.delay_ms": delay
            })
          )
          yield* Effect.sleep(delay)
        }
        if (order.length > 1 || plans.length > 1) {
          yield* Effect.logInfo("Falling back to the next deployment").pipe(
            Effect.annotateLogs({ "request.id": requestId, provider: deployment.provider, model: deployment.upstreamModel, error: lastError?._tag ?? "" })
          )
        }
      }
    }
    return yield* Effect.fail(lastError!)
  })
