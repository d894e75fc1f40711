/**
 * Turning an upstream error response into an `UpstreamHttpError`. Only the
 * OpenAI-shaped fields of the body are kept, so nothing else the upstream
 * sent (account ids, raw provider payloads) reaches the client.
 */
import { UpstreamHttpError } from "./Errors.js"
import type { UpstreamResponse } from "./HttpTransport.js"
import { streamErrorStatus } from "./StreamErrorStatus.js"

const forwardedHeaderPattern = /^(retry-after|retry-after-ms|x-ratelimit-.*)$/

/** The response header that carries the upstream's own request id to the client. */
export const UPSTREAM_REQUEST_ID_HEADER = "x-fluxen-upstream-request-id"

/**
 * Picks the upstream headers a client needs: `retry-after` and
 * `x-ratelimit-*` to back off, and the upstream's request id (OpenAI's
 * `x-request-id`, Anthropic's `request-id`) as
 * `x-fluxen-upstream-request-id`, which the provider's support needs to find the call.
 * Fluxen's own id keeps the client-facing request id headers.
 */
export const pickUpstreamHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const picked: Record<string, string> = {}
  for (const name in headers) {
    if (forwardedHeaderPattern.test(name)) picked[name] = headers[name]!
    else if (name === "x-request-id" || name === "request-id") picked[UPSTREAM_REQUEST_ID_HEADER] = headers[name]!
  }
  return picked
}

/**
 * Picks `retry-after` and `x-ratelimit-*` only.
 * @deprecated Use {@link pickUpstreamHeaders}, which also passes on the upstream's request id.
 */
export const pickRateLimitHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const picked: Record<string, string> = {}
  for (const name in headers) {
    if (forwardedHeaderPattern.test(name)) picked[name] = headers[name]!
  }
  return picked
}

const stringOrNull = (value: unknown): string | null => (typeof value === "string" ? value : null)

const defaultErrorType = (status: number): string => {
  if (status === 400 || status === 422) return "invalid_request_error"
  if (status === 401) return "authentication_error"
  if (status === 403) return "permission_error"
  if (status === 404) return "not_found_error"
  if (status === 429) return "rate_limit_error"
  return "api_error"
}

/**
 * Reads an error body that follows OpenAI's `{"error": {...}}` shape (also
 * used by most OpenAI-compatible servers) or vLLM's older flat shape. Other
 * bodies get a generic message naming the status, never their own text.
 */
export const upstreamErrorFromBody = (
  provider: string,
  status: number,
  headers: Readonly<Record<string, string>>,
  bodyText: string,
  secrets: ReadonlyArray<string> = []
): UpstreamHttpError => fromErrorValue(provider, status, headers, errorValueOf(bodyText), secrets, `The upstream returned HTTP ${status}.`)

/**
 * Reads an error that an OpenAI-style server sent as an event (one that
 * {@link reportsStreamError} flags) in a stream that started with HTTP 200.
 * Its status comes from the error's `code` or `type` (see `streamErrorStatus`).
 */
export const upstreamErrorFromEvent = (
  provider: string,
  headers: Readonly<Record<string, string>>,
  data: string,
  secrets: ReadonlyArray<string> = []
): UpstreamHttpError => {
  const error = errorValueOf(data)
  const status = streamErrorStatus(error)
  const mapped = fromErrorValue(provider, status, headers, error, secrets, "The upstream reported an error in the stream.")
  return new UpstreamHttpError({ provider, status, error: mapped.error, headers: mapped.headers, streamEvent: true })
}

/**
 * Checks whether a parsed chat or completions stream payload reports an
 * error. These shapes do:
 * - `{"error": {...}}` without `choices`, as OpenAI, vLLM and most
 *   compatible servers send it.
 * - A chunk with `choices` and a non-null `error`, or with a choice whose
 *   `finish_reason` is `"error"`. OpenRouter ends a stream that failed after
 *   its first tokens this way (its streaming reference, "Handling Errors
 *   During Streaming", as of November 2025).
 * - vLLM's flat error object `{"object": "error", "message", "type", "code"}`,
 *   the shape of its error bodies before v0.10.1. Its own streams wrapped
 *   that object in `error`.
 */
export const reportsStreamError = (payload: unknown): boolean => {
  if (typeof payload !== "object" || payload === null) return false
  const { error, choices, object } = payload as { error?: unknown; choices?: unknown; object?: unknown }
  if (choices === undefined) return error !== undefined || object === "error"
  if (error !== undefined && error !== null) return true
  return Array.isArray(choices) && choices.some((choice) => (choice as { finish_reason?: unknown } | null)?.finish_reason === "error")
}

/**
 * Returns the error object of a JSON body, or of the first item of a JSON
 * array body: its `error` member, or the body itself in vLLM's flat shape.
 */
const errorValueOf = (bodyText: string): unknown => {
  let parsed: unknown
  try {
    parsed = JSON.parse(bodyText)
  } catch {
    return undefined
  }
  const envelope = Array.isArray(parsed) ? parsed[0] : parsed
  if (typeof envelope !== "object" || envelope === null) return undefined
  const { error, object } = envelope as { error?: unknown; object?: unknown }
  return error === undefined && object === "error" ? envelope : error
}

const fromErrorValue = (
  provider: string,
  status: number,
  headers: Readonly<Record<string, string>>,
  error: unknown,
  secrets: ReadonlyArray<string>,
  fallbackMessage: string
): UpstreamHttpError => {
  const fields = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : undefined
  const code = fields?.code
  return makeUpstreamHttpError({
    provider,
    status,
    headers,
    message: stringOrNull(fields?.message) ?? stringOrNull(error) ?? fallbackMessage,
    type: stringOrNull(fields?.type) ?? stringOrNull(fields?.status) ?? undefined,
    param: stringOrNull(fields?.param),
    code: typeof code === "string" || typeof code === "number" ? code : null,
    secrets
  })
}

/** The fields of an upstream error response that an adapter read, for {@link makeUpstreamHttpError}. */
export interface UpstreamErrorFields {
  readonly provider: string
  readonly status: number
  /** All response headers; only those {@link pickUpstreamHeaders} keeps are passed on. */
  readonly headers: Readonly<Record<string, string>>
  /** The message for the client, taken from the fields the adapter read, never the raw body. */
  readonly message: string
  /** OpenAI's error `type`. Without it, the status picks one, such as `rate_limit_error` for 429 and `api_error` for 5xx. */
  readonly type?: string | undefined
  readonly param?: string | null | undefined
  readonly code?: string | number | null | undefined
  /** Values removed from `message`, such as the API key (see {@link upstreamSecrets}). */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/**
 * Makes the `UpstreamHttpError` for an upstream whose error bodies are not
 * OpenAI-shaped. It redacts `secrets` and masked keys in the message and
 * keeps only the headers a client needs.
 */
export const makeUpstreamHttpError = (fields: UpstreamErrorFields): UpstreamHttpError =>
  new UpstreamHttpError({
    provider: fields.provider,
    status: fields.status,
    error: {
      message: redact(fields.message, fields.secrets ?? []),
      type: fields.type ?? defaultErrorType(fields.status),
      param: fields.param ?? null,
      code: fields.code ?? null
    },
    headers: pickUpstreamHeaders(fields.headers)
  })

/** Replaces every occurrence of a secret (an API key the upstream quoted back) with `[redacted]`. */
const CREDENTIAL_HEADERS = new Set(["authorization", "api-key", "x-api-key", "x-goog-api-key", "proxy-authorization"])

/**
 * Returns the secrets to remove from upstream error messages: the API key, and
 * the values of credential headers set in the configuration, with and without
 * their `Bearer ` prefix.
 */
export const upstreamSecrets = (apiKey: string | undefined, headers: Readonly<Record<string, string>> = {}): Array<string> => {
  const secrets = apiKey === undefined || apiKey === "" ? [] : [apiKey]
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(name.toLowerCase())) continue
    secrets.push(value)
    const token = value.replace(/^bearer\s+/i, "")
    if (token !== value) secrets.push(token)
  }
  return secrets
}

/**
 * A key that the provider masked itself, such as OpenAI's `sk-proj-****…ab12`
 * in a 401 message. Its visible ends are still part of a secret.
 */
const MASKED_KEY = /[A-Za-z0-9_-]*\*{4,}[A-Za-z0-9_-]*/g

/** Replaces each of `secrets`, and each key the provider masked, with `[redacted]`. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets
    .reduce((result, secret) => (secret.length >= 4 ? result.split(secret).join("[redacted]") : result), text)
    .replace(MASKED_KEY, "[redacted]")

/** Reads the rest of an error response and maps it, removing `secrets` from the message. */
export const readUpstreamError = async (
  provider: string,
  response: UpstreamResponse,
  secrets: ReadonlyArray<string> = []
): Promise<UpstreamHttpError> => {
  const bytes = await response.bytes()
  return upstreamErrorFromBody(provider, response.status, response.headers, new TextDecoder().decode(bytes), secrets)
}
