/**
 * Building a plugin the way the host does (SDK API version check, config
 * decoded with the plugin's schema, layer built in a scope of its own), and
 * the request contexts its provider and hooks are called with.
 */
import type { SqlClient } from "@effect/sql"
import { Cause, Context, Effect, Either, Exit, Layer, ParseResult, Schema, Scope } from "effect"
import type { CanonicalRequest, Caller, Endpoint, Outcome, RequestContext, Route } from "../Hooks.js"
import { HttpTransport, type HttpTransportService } from "../HttpTransport.js"
import { Plugin, PluginHost, SDK_API_VERSION, type PluginDefinition, type PluginInstance } from "../Plugin.js"
import type { CallContext } from "../Provider.js"
import { makeFetchTransport } from "./FetchTransport.js"

export interface BuildPluginOptions {
  /** The transport the plugin sends upstream requests through; default {@link makeFetchTransport}. */
  readonly transport?: HttpTransportService
  /** `PluginHost.instanceName`: the provider key in `fluxen.yaml`, or the package name for hooks. Default `"test"`. */
  readonly instanceName?: string
  /** `PluginHost.configDirectory`; default the working directory. */
  readonly configDirectory?: string
  /**
   * The gateway database, for plugins that keep tables in it (for example
   * `SqliteClient.layer({ filename: ":memory:" })` from `@effect/sql-sqlite-node`).
   * Without it, a plugin that requires `SqlClient` fails to build.
   */
  readonly sqlLayer?: Layer.Layer<SqlClient.SqlClient, unknown>
}

export interface BuiltPlugin<Config> {
  /** The config after decoding, as the plugin's layer received it. */
  readonly config: Config
  readonly instance: PluginInstance
  /** Closes the plugin's scope, releasing everything its layer acquired. */
  readonly close: () => Promise<void>
}

/**
 * Builds a plugin from its definition and its YAML `config` section, after
 * the checks the host makes first. The SDK API version must be this SDK's, and
 * the config must decode with `configSchema`, where excess properties are
 * errors as in the host. Rejects with an `Error` naming what failed.
 */
export const buildPlugin = async <Config>(
  definition: PluginDefinition<Config>,
  config: unknown,
  options: BuildPluginOptions = {}
): Promise<BuiltPlugin<Config>> => {
  if (definition.sdkApiVersion !== SDK_API_VERSION) {
    throw new Error(
      `The plugin '${definition.name}' declares SDK API version ${definition.sdkApiVersion}, but this SDK is version ${SDK_API_VERSION}. ` +
        "Set sdkApiVersion to SDK_API_VERSION from @fluxen/sdk."
    )
  }

  const decoded = Schema.decodeUnknownEither(definition.configSchema, { errors: "all", onExcessProperty: "error" })(config ?? {})
  if (Either.isLeft(decoded)) {
    throw new Error(`The config of '${definition.name}' is invalid:\n${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
  }

  const host = PluginHost.of({
    instanceName: options.instanceName ?? "test",
    packageName: definition.name,
    configDirectory: options.configDirectory ?? process.cwd()
  })
  const transport = options.transport ?? makeFetchTransport()
  const scope = Effect.runSync(Scope.make())

  const build = Effect.gen(function* () {
    const sql = options.sqlLayer === undefined ? Context.empty() : yield* Layer.buildWithScope(options.sqlLayer, scope)
    const services = Context.make(PluginHost, host).pipe(Context.add(HttpTransport, transport), Context.merge(sql))
    // The host provides SqlClient too. Without `sqlLayer` it is missing here, so
    // a plugin that uses it dies with "Service not found", reported below.
    const layer = definition.layer(decoded.right) as Layer.Layer<Plugin, unknown, PluginHost | HttpTransport>
    return yield* Layer.buildWithScope(layer, scope).pipe(Effect.provide(services))
  })

  const exit = await Effect.runPromiseExit(build)
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const details = Cause.pretty(exit.cause)
    const hint = details.includes("@effect/sql/SqlClient") ? "\nThe plugin uses the gateway database: pass `sqlLayer` to provide one." : ""
    throw new Error(`The plugin '${definition.name}' failed to build:\n${details}${hint}`)
  }

  return {
    config: decoded.right,
    instance: Context.get(exit.value, Plugin),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export interface CallContextOptions {
  readonly upstreamModel: string
  readonly signal?: AbortSignal
  /** Default 10 000 ms. */
  readonly idleTimeoutMs?: number
  readonly requestId?: string
  readonly clientHeaders?: Readonly<Record<string, string>>
}

const headerReader = (headers: Readonly<Record<string, string>>) => {
  const lowercase = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
  return { get: (name: string) => lowercase.get(name.toLowerCase()) }
}

let requestCounter = 0
const nextRequestId = (): string => `test-request-${++requestCounter}`

/** Makes the context a provider adapter is called with. */
export const makeCallContext = (options: CallContextOptions): CallContext => ({
  requestId: options.requestId ?? nextRequestId(),
  upstreamModel: options.upstreamModel,
  signal: options.signal ?? new AbortController().signal,
  idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
  clientHeaders: headerReader(options.clientHeaders ?? {})
})

export interface RequestContextOptions {
  readonly request: CanonicalRequest
  /** Default `chat`. */
  readonly endpoint?: Endpoint
  /** Default: the request's own `stream` field. */
  readonly stream?: boolean
  /** Default: the request's model on a provider named `test`. */
  readonly route?: Partial<Route>
  readonly headers?: Readonly<Record<string, string>>
  readonly requestId?: string
  /**
   * The caller, as an authentication hook earlier in the chain would have set it (`keyId`,
   * `team`, `metadata`). Default: no key, no team and empty metadata, as without one.
   */
  readonly caller?: Partial<Caller>
}

/** Makes the context request hooks are called with, as the host builds it for a new request. */
export const makeRequestContext = (options: RequestContextOptions): RequestContext => {
  const model = options.request.model
  return {
    requestId: options.requestId ?? nextRequestId(),
    endpoint: options.endpoint ?? "chat",
    stream: options.stream ?? (options.request as { readonly stream?: unknown }).stream === true,
    startedAt: Date.now(),
    headers: headerReader(options.headers ?? {}),
    request: options.request,
    route: { requestedModel: model, provider: "test", upstreamModel: model, ...options.route },
    caller: { keyId: null, team: null, metadata: {}, ...options.caller },
    record: {},
    responseHeaders: {},
    attributes: new Map()
  }
}

/** Makes a request outcome; the defaults describe a successful call that reported nothing. */
export const makeOutcome = (fields: Partial<Outcome> = {}): Outcome => ({
  status: "ok",
  httpStatus: 200,
  usage: undefined,
  error: undefined,
  response: undefined,
  streamedText: "",
  answeredByHook: false,
  ...fields
})
