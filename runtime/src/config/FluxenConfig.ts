/**
 * The schema of `fluxen.yaml`. Plugin sections (`config:`) stay unknown
 * here: each plugin decodes its own with its own schema when it is loaded.
 */
import { Schema } from "effect"
import { ByteSize, TimerMillis, TimerMillisOrZero } from "./Units.js"

const Name = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))

export const ServerConfig = Schema.Struct({
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 8080 }),
  /** Largest accepted request body. */
  bodyLimit: Schema.optionalWith(ByteSize, { default: () => 4 * 1_048_576 }),
  /** How long shutdown waits for in-flight requests before closing them. 0 closes them at once. */
  shutdownTimeout: Schema.optionalWith(TimerMillisOrZero, { default: () => 30_000 })
})

export const UsageConfig = Schema.Struct({
  /** PostgreSQL URL; when empty or absent, usage goes to the SQLite file. */
  databaseUrl: Schema.optional(Schema.Redacted(Schema.String)),
  sqlitePath: Schema.optionalWith(Schema.String, { default: () => "./data/fluxen.db" }),
  flushInterval: Schema.optionalWith(TimerMillis, { default: () => 1_000 }),
  batchSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 500 }),
  /** Time one insert of a batch may take before the writer counts it as failed and retries it. */
  insertTimeout: Schema.optionalWith(TimerMillis, { default: () => 30_000 }),
  /** Time one read of the usage API or the dashboard data may take before the route returns 503. */
  queryTimeout: Schema.optionalWith(TimerMillis, { default: () => 10_000 })
})

export const UpstreamConfig = Schema.Struct({
  /** Silence allowed while waiting for response headers and between body bytes. */
  idleTimeout: Schema.optionalWith(TimerMillis, { default: () => 120_000 }),
  connectTimeout: Schema.optionalWith(TimerMillis, { default: () => 10_000 }),
  connectionsPerOrigin: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 256 }),
  keepAlive: Schema.optionalWith(TimerMillis, { default: () => 30_000 })
})

export const ProviderEntry = Schema.Struct({
  /** The npm package of the provider plugin, e.g. `@fluxen/provider-openai`. */
  use: Schema.String,
  config: Schema.optional(Schema.Unknown),
  idleTimeout: Schema.optional(TimerMillis)
})

export const DeploymentEntry = Schema.Struct({
  provider: Name,
  /** The model name sent upstream; defaults to the public name. */
  model: Schema.optional(Schema.String),
  /** Share of traffic under the `weighted` strategy, relative to the other deployments. */
  weight: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 1 }),
  idleTimeout: Schema.optional(TimerMillis)
})

export const RetryConfig = Schema.Struct({
  /** Further attempts on the same deployment after a retryable failure (429, 5xx, timeout, connection error). */
  attempts: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 10)), { default: () => 0 }),
  /** First backoff delay; it doubles per attempt, with full jitter. */
  initialDelay: Schema.optionalWith(TimerMillisOrZero, { default: () => 250 }),
  /** Maximum wait before a retry. A `retry-after` longer than this moves on to the next deployment instead. */
  maxDelay: Schema.optionalWith(TimerMillisOrZero, { default: () => 5_000 })
})

/**
 * A public model name. Exactly one of `provider` (one deployment),
 * `deployments` (several, balanced by `strategy`) or `alias` (another
 * public name) is set.
 */
export const ModelEntry = Schema.Struct({
  provider: Schema.optional(Name),
  /** The model name sent upstream with `provider`; defaults to the public name. */
  model: Schema.optional(Schema.String),
  deployments: Schema.optional(Schema.Array(DeploymentEntry).pipe(Schema.minItems(1))),
  /** `weighted` picks by weight, `latency` the lowest recent time to first byte, `ordered` the first healthy one. */
  strategy: Schema.optionalWith(Schema.Literal("weighted", "latency", "ordered"), { default: () => "weighted" as const }),
  alias: Schema.optional(Schema.String),
  /** Public model names tried in order when every deployment of this one failed before the first byte reached the client. */
  fallbacks: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  retry: Schema.optional(RetryConfig),
  idleTimeout: Schema.optional(TimerMillis)
})

export const PluginEntry = Schema.Struct({
  use: Schema.String,
  /** Distinguishes two instances of one package; defaults to the package name. */
  name: Schema.optional(Name),
  /** `open`: a failing hook is logged and skipped. `closed`: it fails the request. */
  failMode: Schema.optionalWith(Schema.Literal("open", "closed"), { default: () => "open" as const }),
  /** Time allowed to each hook call of this plugin. */
  timeout: Schema.optionalWith(TimerMillis, { default: () => 5_000 }),
  config: Schema.optional(Schema.Unknown)
})

export const RoutingConfig = Schema.Struct({
  /** Retry policy of models that set none. */
  retry: Schema.optionalWith(RetryConfig, { default: () => Schema.decodeSync(RetryConfig)({}) }),
  /** A deployment that fails `failures` times within `window` is skipped for `duration`. */
  cooldown: Schema.optionalWith(
    Schema.Struct({
      failures: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 3 }),
      window: Schema.optionalWith(TimerMillis, { default: () => 60_000 }),
      duration: Schema.optionalWith(TimerMillis, { default: () => 30_000 })
    }),
    { default: () => ({ failures: 3, window: 60_000, duration: 30_000 }) }
  )
})

export const LoggingConfig = Schema.Struct({
  level: Schema.optionalWith(Schema.Literal("debug", "info", "warning", "error"), { default: () => "info" as const }),
  format: Schema.optionalWith(Schema.Literal("logfmt", "json", "pretty"), { default: () => "logfmt" as const })
})

// The messages are fixed, because the default ones would repeat the secret.
export const AdminConfig = Schema.Struct({
  /**
   * The secret that opens the dashboard, its data route, the usage totals and, with
   * `protectMetrics`, the metrics, sent as `Authorization: Bearer <key>` or `?key=`. Without
   * it the dashboard responds with 401 and the usage totals are open.
   */
  key: Schema.Redacted(
    Schema.String.annotations({ message: () => "must be a string" }).pipe(
      Schema.minLength(16, { message: () => "must be at least 16 characters long" })
    )
  ),
  /**
   * Whether `GET /metrics` needs the key too. Off by default, so that Prometheus
   * scrapers configured without a token keep working.
   */
  protectMetrics: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations({ message: () => "must be a mapping such as { key: ${FLUXEN_ADMIN_KEY} }" })

export const FluxenConfig = Schema.Struct({
  server: Schema.optionalWith(ServerConfig, { default: () => Schema.decodeSync(ServerConfig)({}) }),
  usage: Schema.optionalWith(UsageConfig, { default: () => Schema.decodeSync(UsageConfig)({}) }),
  upstream: Schema.optionalWith(UpstreamConfig, { default: () => Schema.decodeSync(UpstreamConfig)({}) }),
  routing: Schema.optionalWith(RoutingConfig, { default: () => Schema.decodeSync(RoutingConfig)({}) }),
  logging: Schema.optionalWith(LoggingConfig, { default: () => Schema.decodeSync(LoggingConfig)({}) }),
  providers: Schema.Record({ key: Name, value: ProviderEntry }),
  models: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelEntry }), { default: () => ({}) }),
  plugins: Schema.optionalWith(Schema.Array(PluginEntry), { default: () => [] }),
  admin: Schema.optionalWith(AdminConfig, { exact: true })
}).annotations({ identifier: "FluxenConfig", title: "fluxen.yaml" })

export type FluxenConfig = typeof FluxenConfig.Type
export type PluginEntry = typeof PluginEntry.Type
export type ProviderEntry = typeof ProviderEntry.Type
export type ModelEntry = typeof ModelEntry.Type
export type RetryConfig = typeof RetryConfig.Type
