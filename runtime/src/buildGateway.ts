/**
 * Building a complete gateway from a loaded configuration, the same on
 * every JavaScript runtime: the usage database and its writer, the
 * upstream transport the entry point chose, and the plugins. Everything
 * lives in the caller's scope and closes in reverse order: plugins first,
 * then the writer (which writes what it still holds), then the database.
 * The plugins that reloads start live in that scope too, so the caller's
 * close also closes any that a reload left open.
 */
import type { HttpTransport } from "@fluxen/sdk"
import { Context, Effect, ExecutionStrategy, Layer, Redacted, Scope } from "effect"
import * as Path from "node:path"
import type { LoadedConfig } from "./config/loadConfig.js"
import { makeGateway, type Gateway } from "./Gateway.js"
import type { ModuleImporter } from "./plugins/PluginLoader.js"
import type { LostUsageRecords } from "./usage/lostRecordsExitStatus.js"
import { UsageDatabase, type SqliteDriver } from "./usage/UsageDatabase.js"
import { UsageStore } from "./usage/UsageStore.js"
import { UsageWriter } from "./usage/UsageWriter.js"

export interface BuildOptions {
  readonly transport: Layer.Layer<HttpTransport>
  readonly importer: ModuleImporter
  /** The SQLite binding for the embedded usage database; better-sqlite3 when absent. */
  readonly sqliteDriver?: SqliteDriver
}

export interface BuiltGateway {
  /** The gateway serving requests now; a reload replaces it. */
  readonly gateway: Gateway
  /** The usage store and writer, for tools and tests that read usage back. */
  readonly services: Context.Context<UsageStore | UsageWriter>
  /**
   * Builds another gateway on the same services (for reloads). It keeps the plugin instances of
   * `previous` whose layer inputs did not change, and takes over the health of the deployments
   * whose provider it kept. It starts the other plugins in the scope that the first gateway's
   * plugins live in.
   */
  readonly makeGateway: (loaded: LoadedConfig, previous: Gateway) => Effect.Effect<Gateway, unknown>
  /** Writes buffered usage records now. */
  readonly flushUsage: Effect.Effect<void>
  /**
   * Returns the usage records lost so far: those the writer dropped (from a full queue, after an
   * insert that died, or left unwritten at shutdown), and the requests that ended after its last flush.
   */
  readonly lostUsageRecords: () => LostUsageRecords
  /** "postgresql" or "sqlite". */
  readonly storage: string
}

/**
 * Builds the services that outlive configuration reloads (usage database,
 * writer, transport) and a first gateway in a scope of its own.
 */
export const buildGateway = (loaded: LoadedConfig, options: BuildOptions) =>
  Effect.gen(function* () {
    const { config } = loaded
    const databaseUrl =
      config.usage.databaseUrl !== undefined && Redacted.value(config.usage.databaseUrl).trim() !== ""
        ? config.usage.databaseUrl
        : undefined
    const storage = UsageDatabase.layer(
      databaseUrl !== undefined
        ? { url: databaseUrl, queryTimeout: config.usage.queryTimeout }
        : {
            sqlitePath: Path.resolve(loaded.directory, config.usage.sqlitePath),
            driver: options.sqliteDriver,
            queryTimeout: config.usage.queryTimeout
          }
    )
    const usage = UsageWriter.layer({
      flushIntervalMs: config.usage.flushInterval,
      batchSize: config.usage.batchSize,
      insertTimeoutMs: config.usage.insertTimeout
    }).pipe(
      Layer.provideMerge(storage)
    )
    const services = yield* Layer.build(Layer.merge(usage, options.transport))
    // Each plugin's scope is a child of this one. It closes before the services above, because it was opened after them.
    const pluginScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const startGateway = (next: LoadedConfig, previous: Gateway | undefined) =>
      Effect.provide(makeGateway(next, options.importer, previous), services).pipe(Scope.extend(pluginScope))
    const gateway = yield* startGateway(loaded, undefined)
    const writer = Context.get(services, UsageWriter)
    const built: BuiltGateway = {
      gateway,
      makeGateway: startGateway,
      services: Context.pick(UsageStore, UsageWriter)(services),
      flushUsage: writer.flush(),
      lostUsageRecords: () => {
        const { dropped, unrecordedRequests } = Effect.runSync(writer.stats)
        return { dropped, unrecordedRequests }
      },
      storage: databaseUrl === undefined ? "sqlite" : "postgresql"
    }
    return built
  })
