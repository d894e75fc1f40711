/**
 * Building a gateway for runtimes that speak the fetch API (Deno): `fetch`
 * as the upstream transport, `node:sqlite` for the embedded usage
 * database, and plugins imported by package name with `import()`.
 */
import { Effect } from "effect"
import type { LoadedConfig } from "../config/loadConfig.js"
import { buildGateway } from "../buildGateway.js"
import { layerFetchTransport } from "./FetchTransport.js"
import { nodeSqliteModuleDriver } from "./NodeSqliteClient.js"
import { makeWebHandler } from "./webHandler.js"

export const startWebGateway = (loaded: LoadedConfig) =>
  Effect.gen(function* () {
    const built = yield* buildGateway(loaded, {
      transport: layerFetchTransport,
      importer: (packageName) => import(packageName),
      sqliteDriver: nodeSqliteModuleDriver
    })
    const handler = yield* makeWebHandler(built.gateway)
    return { ...built, handler }
  })
