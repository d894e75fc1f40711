/**
 * Maps the model a client names to a route plan: the deployments that can
 * serve it (a provider instance and an upstream model each), how to pick
 * among them, the retry policy and the fallback models. Configured names
 * win; otherwise `provider/model` addresses any model of a configured
 * provider directly.
 */
import { ModelNotFoundError, type ProviderAdapter } from "@fluxen/sdk"
import { Either } from "effect"
import type { FluxenConfig, ModelEntry, RetryConfig } from "../config/FluxenConfig.js"
import { DeploymentHealth } from "./DeploymentHealth.js"

export interface Deployment {
  /** `provider/upstreamModel`, the key of its health state. */
  readonly id: string
  readonly provider: string
  readonly upstreamModel: string
  readonly adapter: ProviderAdapter
  readonly idleTimeoutMs: number
  readonly weight: number
}

export interface RoutePlan {
  readonly requestedModel: string
  /** The public name the plan was built for, after aliases. */
  readonly model: string
  readonly deployments: ReadonlyArray<Deployment>
  readonly strategy: "weighted" | "latency" | "ordered"
  readonly retry: RetryConfig
  readonly fallbacks: ReadonlyArray<string>
}

export class ModelRouter {
  private readonly plans = new Map<string, RoutePlan>()
  readonly health: DeploymentHealth

  /**
   * @param previous The router of the gateway that a reload replaces. The new router takes over
   * the health of each deployment that a configured model still uses, unless the reload
   * restarted its provider. A changed `config` of the provider may point at another endpoint
   * or account, so such a deployment is measured again.
   */
  constructor(
    private readonly config: FluxenConfig,
    private readonly adapters: ReadonlyMap<string, ProviderAdapter>,
    previous?: ModelRouter
  ) {
    this.health = new DeploymentHealth({
      failures: config.routing.cooldown.failures,
      windowMs: config.routing.cooldown.window,
      durationMs: config.routing.cooldown.duration
    })
    for (const name of Object.keys(config.models)) {
      const plan = this.buildPlan(name, name)
      if (plan !== undefined) this.plans.set(name, plan)
    }
    if (previous !== undefined) this.health.carryOver(previous.health, this.deploymentsKeptFrom(previous))
  }

  /**
   * Returns the ids of the configured deployments whose provider has the same adapter instance
   * in `previous`, which it has when the reload kept the provider's plugin. A deployment that
   * only a `provider/model` request addresses is left out, because its plan has no other
   * deployment and so never reads the health.
   */
  private deploymentsKeptFrom(previous: ModelRouter): Set<string> {
    const ids = new Set<string>()
    for (const plan of this.plans.values()) {
      for (const deployment of plan.deployments) {
        if (previous.adapters.get(deployment.provider) === deployment.adapter) ids.add(deployment.id)
      }
    }
    return ids
  }

  private providerIdleTimeout(provider: string): number {
    return this.config.providers[provider]?.idleTimeout ?? this.config.upstream.idleTimeout
  }

  private deployment(provider: string, upstreamModel: string, weight: number, idleTimeout: number | undefined): Deployment | undefined {
    const adapter = this.adapters.get(provider)
    if (adapter === undefined) return undefined
    return {
      id: `${provider}/${upstreamModel}`,
      provider,
      upstreamModel,
      adapter,
      idleTimeoutMs: idleTimeout ?? this.providerIdleTimeout(provider),
      weight
    }
  }

  private buildPlan(requestedModel: string, name: string): RoutePlan | undefined {
    let entry: ModelEntry | undefined = this.config.models[name]
    let model = name
    // Aliases were checked for loops when the configuration loaded.
    while (entry?.alias !== undefined) {
      model = entry.alias
      entry = this.config.models[model]
    }
    if (entry === undefined) return undefined

    const deployments: Array<Deployment> = []
    if (entry.provider !== undefined) {
      const single = this.deployment(entry.provider, entry.model ?? model, 1, entry.idleTimeout)
      if (single !== undefined) deployments.push(single)
    }
    for (const item of entry.deployments ?? []) {
      const deployment = this.deployment(item.provider, item.model ?? model, item.weight, item.idleTimeout ?? entry.idleTimeout)
      if (deployment !== undefined) deployments.push(deployment)
    }
    return {
      requestedModel,
      model,
      deployments,
      strategy: entry.strategy,
      retry: entry.retry ?? this.config.routing.retry,
      fallbacks: entry.fallbacks
    }
  }

  resolve(model: string): Either.Either<RoutePlan, ModelNotFoundError> {
    const configured = this.plans.get(model)
    if (configured !== undefined) return Either.right(configured)

    const slash = model.indexOf("/")
    if (slash > 0 && slash < model.length - 1) {
      const deployment = this.deployment(model.slice(0, slash), model.slice(slash + 1), 1, undefined)
      if (deployment !== undefined) {
        return Either.right({
          requestedModel: model,
          model,
          deployments: [deployment],
          strategy: "ordered",
          retry: this.config.routing.retry,
          fallbacks: []
        })
      }
    }
    return Either.left(new ModelNotFoundError({ model }))
  }

  /**
   * Describes one model as `GET /v1/models/{model}` shows it: a configured
   * public name, or a `provider/model` name that a request could use.
   */
  describe(model: string): { readonly id: string; readonly provider: string } | undefined {
    const plan = Either.getOrUndefined(this.resolve(model))
    return plan === undefined ? undefined : { id: model, provider: plan.deployments[0]?.provider ?? "fluxen" }
  }

  /** Lists the configured public model names with their first provider, for `GET /v1/models`. */
  listConfigured(): ReadonlyArray<{ readonly id: string; readonly provider: string }> {
    return [...this.plans.entries()].map(([id, plan]) => ({ id, provider: plan.deployments[0]?.provider ?? "fluxen" }))
  }
}
