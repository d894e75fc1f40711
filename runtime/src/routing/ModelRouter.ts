/**
 * Maps the model a client names to a provider instance and the upstream
 * model. Configured names win; otherwise `provider/model` addresses any
 * model of a configured provider directly.
 */
import { ModelNotFoundError, type ProviderAdapter, type Route } from "@fluxen/sdk"
import { Either } from "effect"
import type { FluxenConfig } from "../config/FluxenConfig.js"

export interface ResolvedRoute extends Route {
  readonly adapter: ProviderAdapter
  readonly idleTimeoutMs: number
}

export class ModelRouter {
  private readonly routes = new Map<string, ResolvedRoute>()

  constructor(
    private readonly config: FluxenConfig,
    private readonly adapters: ReadonlyMap<string, ProviderAdapter>
  ) {
    for (const [name, model] of Object.entries(config.models)) {
      const adapter = adapters.get(model.provider)
      if (adapter === undefined) continue
      this.routes.set(name, {
        requestedModel: name,
        provider: model.provider,
        upstreamModel: model.model ?? name,
        adapter,
        idleTimeoutMs: model.idleTimeout ?? this.providerIdleTimeout(model.provider)
      })
    }
  }

  private providerIdleTimeout(provider: string): number {
    return this.config.providers[provider]?.idleTimeout ?? this.config.upstream.idleTimeout
  }

  resolve(model: string): Either.Either<ResolvedRoute, ModelNotFoundError> {
    const configured = this.routes.get(model)
    if (configured !== undefined) return Either.right(configured)

    const slash = model.indexOf("/")
    if (slash > 0 && slash < model.length - 1) {
      const provider = model.slice(0, slash)
      const adapter = this.adapters.get(provider)
      if (adapter !== undefined) {
        return Either.right({
          requestedModel: model,
          provider,
          upstreamModel: model.slice(slash + 1),
          adapter,
          idleTimeoutMs: this.providerIdleTimeout(provider)
        })
      }
    }
    return Either.left(new ModelNotFoundError({ model }))
  }

  /** The configured public model names with their providers, for `GET /v1/models`. */
  listConfigured(): ReadonlyArray<{ readonly id: string; readonly provider: string }> {
    return [...this.routes.values()].map((route) => ({ id: route.requestedModel, provider: route.provider }))
  }
}
