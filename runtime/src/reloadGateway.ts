/**
 * Replacing the running gateway with one built from a new configuration,
 * without dropping requests: the new gateway takes every request that
 * arrives after the swap, while the old one finishes its in-flight
 * requests and streams (up to the shutdown deadline) before its plugins
 * close. A configuration that fails to load or start leaves the running
 * gateway in place.
 */
import { Effect, Exit, Fiber, Scope } from "effect"
import type { BuiltGateway } from "./buildGateway.js"
import type { LoadedConfig } from "./config/loadConfig.js"
import type { Gateway } from "./Gateway.js"

/** The gateway currently serving, and the scope its plugins live in. */
export interface GatewaySlot {
  current: Gateway
  scope: Scope.CloseableScope
  /**
   * The configuration the process started with. Its restart-only sections stay in effect until
   * a restart, so a reload compares the file with them, not with the previous reload.
   */
  readonly startConfig: LoadedConfig
  /** The fibers that let replaced gateways finish their requests, then close their plugins. */
  readonly retiring: Set<Fiber.RuntimeFiber<void>>
}

/**
 * Closes what reloads left open, at shutdown and after the server drained: waits for the
 * replaced gateways to finish (each within its own deadline), then closes the plugins of the
 * current gateway when a reload built it. The first gateway's scope belongs to the caller.
 */
export const closeReloaded = (slot: GatewaySlot, first: Scope.CloseableScope): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Fiber.joinAll([...slot.retiring])
    if (slot.scope !== first) yield* Scope.close(slot.scope, Exit.void)
  })

const restartOnlySections = ["server", "usage", "upstream", "logging"] as const

export const reloadGateway = (
  slot: GatewaySlot,
  built: BuiltGateway,
  load: Effect.Effect<LoadedConfig, { readonly message: string }>
): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const loaded = yield* Effect.either(load)
    if (loaded._tag === "Left") {
      yield* Effect.logError("Configuration reload failed; the running configuration stays in use").pipe(
        Effect.annotateLogs("error", loaded.left.message)
      )
      return false
    }
    const scope = yield* Scope.make()
    const next = yield* Effect.either(built.makeGateway(loaded.right).pipe(Scope.extend(scope)))
    if (next._tag === "Left") {
      yield* Scope.close(scope, Exit.void)
      yield* Effect.logError("The reloaded configuration failed to start; the running configuration stays in use").pipe(
        Effect.annotateLogs("error", String((next.left as { message?: unknown }).message ?? next.left))
      )
      return false
    }

    const changed = restartOnlySections.filter(
      (section) => JSON.stringify(slot.startConfig.config[section]) !== JSON.stringify(loaded.right.config[section])
    )
    if (changed.length > 0) {
      yield* Effect.logWarning("Some changed sections take effect only after a restart").pipe(
        Effect.annotateLogs("sections", changed.join(","))
      )
    }

    const previous = { gateway: slot.current, scope: slot.scope }
    slot.current = next.right
    slot.scope = scope
    yield* Effect.logInfo("Configuration reloaded").pipe(Effect.annotateLogs("requests.draining", previous.gateway.inflight.size))

    const drainTimeout = loaded.right.config.server.shutdownTimeout
    const retiring: Fiber.RuntimeFiber<void> = yield* Effect.forkDaemon(
      Effect.promise(() => previous.gateway.inflight.drained()).pipe(
        Effect.timeout(drainTimeout),
        Effect.ignore,
        Effect.zipRight(Scope.close(previous.scope, Exit.void)),
        Effect.ensuring(Effect.sync(() => slot.retiring.delete(retiring)))
      )
    )
    slot.retiring.add(retiring)
    return true
  })
