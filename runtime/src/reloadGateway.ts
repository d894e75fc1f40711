/**
 * Replacing the running gateway with one built from a new configuration,
 * without dropping requests: the new gateway takes every request that
 * arrives after the swap, while the old one finishes its in-flight
 * requests and streams (up to the shutdown deadline). The new gateway
 * keeps each plugin instance whose configuration did not change, and the
 * old instances of the others close once the old gateway has finished. Its
 * router takes over the health (cooldowns and latency averages) of the
 * deployments whose provider it kept. A
 * configuration that fails to load or start leaves the running gateway and
 * all of its plugins in place.
 */
import { Effect, Fiber } from "effect"
import type { BuiltGateway } from "./buildGateway.js"
import type { LoadedConfig } from "./config/loadConfig.js"
import type { Gateway } from "./Gateway.js"
import { comparePlugins, releasePlugins } from "./plugins/RunningPlugins.js"

/** The gateway currently serving. */
export interface GatewaySlot {
  current: Gateway
  /**
   * The configuration the process started with. Its restart-only sections stay in effect until
   * a restart, so a reload compares the file with them, not with the previous reload.
   */
  readonly startConfig: LoadedConfig
  /** The fibers that let replaced gateways finish their requests, then release their plugins. */
  readonly retiring: Set<Fiber.RuntimeFiber<void>>
  /**
   * A semaphore with one permit. Reloads run one at a time, so that each one compares the
   * file with the gateway that serves when it starts, and reuses only plugins still open.
   */
  readonly reloads: Effect.Semaphore
}

/** Returns a slot serving `gateway`, the first gateway built from `startConfig`. */
export const makeGatewaySlot = (gateway: Gateway, startConfig: LoadedConfig): GatewaySlot => ({
  current: gateway,
  startConfig,
  retiring: new Set(),
  reloads: Effect.unsafeMakeSemaphore(1)
})

/**
 * Closes the plugins at shutdown, after the server drained: waits for the replaced gateways to
 * finish (each within its own deadline) and release their plugins, then closes the plugins of
 * the current gateway in reverse load order.
 */
export const closeReloaded = (slot: GatewaySlot): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Fiber.joinAll([...slot.retiring])
    yield* releasePlugins(slot.current.plugins)
  })

const restartOnlySections = ["server", "usage", "upstream", "logging"] as const

/** Returns annotations that list the plugins a reload restarted, kept, added and removed. An empty list is left out. */
const pluginChangeAnnotations = (previous: Gateway, next: Gateway): Record<string, string> => {
  const changes = comparePlugins(previous.plugins, next.plugins)
  const lists = {
    "plugins.restarted": changes.restarted,
    "plugins.kept": changes.kept,
    "plugins.added": changes.added,
    "plugins.removed": changes.removed
  }
  return Object.fromEntries(
    Object.entries(lists)
      .filter(([, labels]) => labels.length > 0)
      .map(([key, labels]) => [key, labels.join(",")])
  )
}

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
    // A failed start has closed the plugins it started, and the running gateway's stay open.
    const previous = slot.current
    const next = yield* Effect.either(built.makeGateway(loaded.right, previous))
    if (next._tag === "Left") {
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

    slot.current = next.right
    yield* Effect.logInfo("Configuration reloaded").pipe(
      Effect.annotateLogs({ "requests.draining": previous.inflight.size, ...pluginChangeAnnotations(previous, next.right) })
    )

    // The plugins the new gateway kept are in use by it, so releasing the old gateway closes only the others.
    const drainTimeout = loaded.right.config.server.shutdownTimeout
    const retiring: Fiber.RuntimeFiber<void> = yield* Effect.forkDaemon(
      Effect.promise(() => previous.inflight.drained()).pipe(
        Effect.timeout(drainTimeout),
        Effect.ignore,
        Effect.zipRight(releasePlugins(previous.plugins)),
        Effect.ensuring(Effect.sync(() => slot.retiring.delete(retiring)))
      )
    )
    slot.retiring.add(retiring)
    return true
  }).pipe(slot.reloads.withPermits(1))
