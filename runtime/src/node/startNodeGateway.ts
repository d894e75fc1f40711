/**
 * Starting a complete Fluxen on Node: the gateway with an undici transport
 * and better-sqlite3, behind a node:http server, all in the caller's
 * scope. Closing that scope drains the server first, then closes the rest.
 */
import { Effect } from "effect"
import type { LoadedConfig } from "../config/loadConfig.js"
import { buildGateway, type BuiltGateway } from "../buildGateway.js"
import { closeReloaded, makeGatewaySlot, reloadGateway } from "../reloadGateway.js"
import { layerUndiciTransport } from "../transport/UndiciTransport.js"
import { makeNodeImporter } from "./nodeImporter.js"
import { serveNode, type ListeningServer } from "./NodeServer.js"

export interface RunningGateway extends ListeningServer, BuiltGateway {
  /** Loads a new configuration and swaps the gateway; returns false when it kept the running one. */
  readonly reload: (load: Effect.Effect<LoadedConfig, { readonly message: string }>) => Effect.Effect<boolean>
}

/**
 * Returns whether V8 collects garbage on the main thread only (see `runtime/bin/fluxen-node`), read
 * from Node's options: the last of `--single-threaded-gc` and its negation decides, and
 * `--single-threaded` implies it.
 */
const garbageCollection = (): "single-threaded" | "parallel" => {
  let single = false
  for (const option of process.execArgv) {
    if (option === "--single-threaded-gc" || option === "--single-threaded") single = true
    else if (option === "--no-single-threaded-gc") single = false
  }
  return single ? "single-threaded" : "parallel"
}

export const startNodeGateway = (loaded: LoadedConfig, overrides: { readonly port?: number; readonly host?: string } = {}) =>
  Effect.gen(function* () {
    const { config } = loaded
    const built = yield* buildGateway(loaded, {
      transport: layerUndiciTransport({
        connectionsPerOrigin: config.upstream.connectionsPerOrigin,
        keepAliveMs: config.upstream.keepAlive,
        connectTimeoutMs: config.upstream.connectTimeout
      }),
      importer: makeNodeImporter({ configDirectory: loaded.directory, workingDirectory: process.cwd() })
    })
    const slot = makeGatewaySlot(built.gateway, loaded)
    // Added before the server, so it runs after the server drained and before the usage writer's last flush.
    yield* Effect.addFinalizer(() => closeReloaded(slot))
    const server = yield* serveNode(() => slot.current, {
      host: overrides.host ?? config.server.host,
      port: overrides.port ?? config.server.port,
      shutdownTimeoutMs: config.server.shutdownTimeout
    })
    yield* Effect.logInfo("Fluxen is listening").pipe(
      Effect.annotateLogs({ url: server.url, providers: Object.keys(config.providers).join(","), storage: built.storage, gc: garbageCollection() })
    )
    const running: RunningGateway = {
      ...server,
      ...built,
      get gateway() {
        return slot.current
      },
      reload: (load) => reloadGateway(slot, built, load)
    }
    return running
  })
