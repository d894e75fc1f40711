/**
 * The failure families a plugin or the runtime can raise. The runtime maps
 * each one to the client's API error shape (status, `type`, `code`,
 * `message`) in one place at the HTTP boundary, so plugins never build
 * HTTP error bodies themselves.
 */
import { Schema } from "effect"

/** The client sent something Fluxen cannot accept (HTTP 400). */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
  message: Schema.String,
  param: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String)
}) {}

/** The requested model is neither configured nor reachable as `provider/model` (HTTP 404). */
export class ModelNotFoundError extends Schema.TaggedError<ModelNotFoundError>()("ModelNotFoundError", {
  model: Schema.String
}) {
  override get message() {
    return `The model '${this.model}' does not exist or is not configured on this gateway.`
  }
}

/** The request body exceeds the configured limit (HTTP 413). */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()("PayloadTooLargeError", {
  limitBytes: Schema.Number
}) {
  override get message() {
    return `The request body exceeds the limit of ${this.limitBytes} bytes.`
  }
}

/** The caller is not authenticated (HTTP 401). */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  message: Schema.String
}) {}

/** The caller is authenticated but may not do this (HTTP 403). */
export class PermissionDeniedError extends Schema.TaggedError<PermissionDeniedError>()("PermissionDeniedError", {
  message: Schema.String
}) {}

/**
 * A limit refused the request before any upstream call (HTTP 429). `kind`
 * selects the OpenAI error type: `rate_limit` becomes `rate_limit_exceeded`
 * and is worth retrying, `quota` becomes `insufficient_quota` and is not.
 */
export class LimitExceededError extends Schema.TaggedError<LimitExceededError>()("LimitExceededError", {
  message: Schema.String,
  kind: Schema.Literal("rate_limit", "quota"),
  retryAfterSeconds: Schema.optional(Schema.Number),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}) {}

/**
 * The upstream responded with an error status, or sent an error as an
 * event inside a stream it had started with HTTP 200. `error` holds only the
 * OpenAI-shaped fields taken from its body (never the raw body), and
 * `headers` the ones worth passing on (`retry-after`, `x-ratelimit-*`).
 */
export class UpstreamHttpError extends Schema.TaggedError<UpstreamHttpError>()("UpstreamHttpError", {
  provider: Schema.String,
  /** The upstream's HTTP status, or for an error event the status its error type gets as an HTTP error. */
  status: Schema.Number,
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.NullOr(Schema.String),
    param: Schema.NullOr(Schema.String),
    code: Schema.NullOr(Schema.Union(Schema.String, Schema.Number))
  }),
  headers: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** True when the upstream sent the error as an event in a stream, after an HTTP 200. */
  streamEvent: Schema.optional(Schema.Boolean)
}) {
  override get message() {
    if (this.streamEvent === true) {
      return `${this.provider} sent an error event in the stream (type ${this.error.type ?? "unknown"}): ${this.error.message}`
    }
    return `${this.provider} returned HTTP ${this.status}: ${this.error.message}`
  }
}

/** The upstream could not be reached, or its connection broke before the response completed (HTTP 502). */
export class UpstreamUnreachableError extends Schema.TaggedError<UpstreamUnreachableError>()(
  "UpstreamUnreachableError",
  {
    provider: Schema.String,
    reason: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message() {
    return `The upstream provider '${this.provider}' is unreachable: ${this.reason}`
  }
}

/**
 * The upstream stayed silent too long (HTTP 504). `phase` says whether it was
 * waiting for the connection, for the response headers or between body bytes.
 */
export class UpstreamTimeoutError extends Schema.TaggedError<UpstreamTimeoutError>()("UpstreamTimeoutError", {
  provider: Schema.String,
  phase: Schema.Literal("connect", "headers", "body"),
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `The upstream provider '${this.provider}' sent nothing for ${this.timeoutMs} ms while waiting for the ${this.phase}.`
  }
}

/** The upstream answered with something the adapter cannot read (HTTP 502). */
export class UpstreamProtocolError extends Schema.TaggedError<UpstreamProtocolError>()("UpstreamProtocolError", {
  provider: Schema.String,
  message: Schema.String
}) {}

/** A plugin hook failed, threw or timed out while its fail mode is `closed` (HTTP 500). */
export class PluginError extends Schema.TaggedError<PluginError>()("PluginError", {
  plugin: Schema.String,
  hook: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** Every error a plugin or the runtime may fail a request with. */
export type GatewayError =
  | InvalidRequestError
  | ModelNotFoundError
  | PayloadTooLargeError
  | AuthenticationError
  | PermissionDeniedError
  | LimitExceededError
  | UpstreamHttpError
  | UpstreamUnreachableError
  | UpstreamTimeoutError
  | UpstreamProtocolError
  | PluginError

/** Errors a provider adapter may fail with. */
export type ProviderError =
  | InvalidRequestError
  | UpstreamHttpError
  | UpstreamUnreachableError
  | UpstreamTimeoutError
  | UpstreamProtocolError

const gatewayErrorTags = new Set<string>([
  "InvalidRequestError",
  "ModelNotFoundError",
  "PayloadTooLargeError",
  "AuthenticationError",
  "PermissionDeniedError",
  "LimitExceededError",
  "UpstreamHttpError",
  "UpstreamUnreachableError",
  "UpstreamTimeoutError",
  "UpstreamProtocolError",
  "PluginError"
])

/** Tells whether a thrown value is one of the gateway's tagged errors. */
export const isGatewayError = (value: unknown): value is GatewayError =>
  typeof value === "object" && value !== null && "_tag" in value &&
  gatewayErrorTags.has((value as { readonly _tag: string })._tag)
