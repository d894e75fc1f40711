/**
 * Starting a complete Fluxen on Node: the gateway with an undici transport
 * and better-sqlite3, behind a node:http server, all in the caller's
 * scope. Closing that scope drains the server first, then closes the rest.
 */
import { Context, Effect } from "effect"
import type { LoadedConfig } from "../config/loadConfig.js"
import { buildGateway, type BuiltGateway } from "../buildGateway.js"
import { reloadGateway, type GatewaySlot } from "../reloadGateway.js"
import { layerUndiciTransport } from "../transport/UndiciTransport.js"
import { UsageWriter } from "../usage/UsageWriter.js"
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
    // Added before the gateway, so it runs after the usage writer's last flush: a process that
    // lost usage records exits with status 1, which a supervisor or an operator can notice.
    let lostRecords = (): number => 0
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const lost = lostRecords()
        if (lost === 0) return Effect.void
        process.exitCode = 1
        return Effect.logError("Usage records were lost, so Fluxen exits with status 1").pipe(Effect.annotateLogs("usage.dropped", lost))
      })
    )
    const built = yield* buildGateway(loaded, {
      transport: layerUndiciTransport({
        connectionsPerOrigin: config.upstream.connectionsPerOrigin,
        keepAliveMs: config.upstream.keepAlive,
        connectTimeoutMs: config.upstream.connectTimeout
      }),
      importer: makeNodeImporter({ configDirectory: loaded.directory, workingDirectory: process.cwd() })
    })
    const writer = Context.get(built.services, UsageWriter)
    lostRecords = () => Effect.runSync(writer.stats).dropped
    const slot: GatewaySlot = { current: built.gateway, scope: built.gatewayScope, config: loaded }
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
