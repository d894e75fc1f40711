/**
 * Starting a complete Fluxen on Node from a loaded configuration: the usage
 * database and its writer, the upstream transport, the plugins and the HTTP
 * server, all in the caller's scope. Closing that scope shuts down in the
 * reverse order: the server drains, plugins close, buffered usage is
 * written, the database closes.
 */
import { Context, Effect, Layer, Redacted } from "effect"
import type { LoadedConfig } from "../config/loadConfig.js"
import { makeGateway, type Gateway } from "../Gateway.js"
import { layerUndiciTransport } from "../transport/UndiciTransport.js"
import { UsageDatabase } from "../usage/UsageDatabase.js"
import { UsageStore } from "../usage/UsageStore.js"
import { UsageWriter } from "../usage/UsageWriter.js"
import * as Path from "node:path"
import { makeNodeImporter } from "./nodeImporter.js"
import { serveNode, type ListeningServer } from "./NodeServer.js"

export interface RunningGateway extends ListeningServer {
  readonly gateway: Gateway
  /** The usage store and writer, for tools and tests that read usage back. */
  readonly services: Context.Context<UsageStore | UsageWriter>
  /** Writes buffered usage records now. */
  readonly flushUsage: Effect.Effect<void>
}

export const startNodeGateway = (loaded: LoadedConfig, overrides: { readonly port?: number; readonly host?: string } = {}) =>
  Effect.gen(function* () {
    const { config } = loaded
    const databaseUrl =
      config.usage.databaseUrl !== undefined && Redacted.value(config.usage.databaseUrl).trim() !== ""
        ? config.usage.databaseUrl
        : undefined
    const storage = UsageDatabase.layer(
      databaseUrl !== undefined
        ? { url: databaseUrl }
        : { sqlitePath: Path.resolve(loaded.directory, config.usage.sqlitePath) }
    )
    const usage = UsageWriter.layer({ flushIntervalMs: config.usage.flushInterval, batchSize: config.usage.batchSize }).pipe(
      Layer.provideMerge(storage)
    )
    const transport = layerUndiciTransport({
      connectionsPerOrigin: config.upstream.connectionsPerOrigin,
      keepAliveMs: config.upstream.keepAlive,
      connectTimeoutMs: config.upstream.connectTimeout
    })
    const services = yield* Layer.build(Layer.merge(usage, transport))

    const importer = makeNodeImporter([loaded.directory, process.cwd()])
    const gateway = yield* Effect.provide(makeGateway(loaded, importer), services)
    const writer = yield* Effect.provide(UsageWriter, services)
    const server = yield* serveNode(gateway, {
      host: overrides.host ?? config.server.host,
      port: overrides.port ?? config.server.port,
      shutdownTimeoutMs: config.server.shutdownTimeout
    })
    yield* Effect.logInfo("Fluxen is listening").pipe(
      Effect.annotateLogs({ url: server.url, providers: Object.keys(config.providers).join(","), storage: databaseUrl ? "postgresql" : "sqlite" })
    )
    const running: RunningGateway = {
      ...server,
      gateway,
      flushUsage: writer.flush(),
      services: Context.pick(UsageStore, UsageWriter)(services)
    }
    return running
  })
