/**
 * Anthropic error bodies and streamed `error` events as `UpstreamHttpError`.
 *
 * Anthropic's errors look like `{"type":"error","error":{"type","message"}}`.
 * Only `error.type` and `error.message` are kept, so nothing else the
 * upstream sent reaches the client. The type becomes the OpenAI `type`, and
 * `code` stays null because Anthropic has no separate error code.
 */
import { pickUpstreamHeaders, redact, UpstreamHttpError, upstreamErrorFromBody, type UpstreamResponse } from "@fluxen/sdk"
import type { ErrorObject } from "./MessagesApi.js"

const anthropicRateLimitHeader = /^anthropic-ratelimit-/

/**
 * Picks the headers a client needs: `retry-after`, `x-ratelimit-*` and
 * Anthropic's `anthropic-ratelimit-*` to back off, and Anthropic's
 * `request-id` as `x-fluxen-upstream-request-id`.
 */
export const pickAnthropicHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const picked = pickUpstreamHeaders(headers)
  for (const name in headers) {
    if (anthropicRateLimitHeader.test(name)) picked[name] = headers[name]!
  }
  return picked
}

/**
 * HTTP status of each Anthropic error type, from Anthropic's error
 * reference. A streamed `error` event has no status of its own, so it gets
 * the one its type would have had as an HTTP error.
 */
export const statusByErrorType: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529
}

/** Maps an Anthropic error response body. A body of another shape gets a generic message naming the status. */
export const upstreamErrorFromAnthropic = (
  provider: string,
  status: number,
  headers: Readonly<Record<string, string>>,
  bodyText: string,
  secrets: ReadonlyArray<string> = []
): UpstreamHttpError => {
  const mapped = upstreamErrorFromBody(provider, status, headers, bodyText, secrets)
  return new UpstreamHttpError({
    provider,
    status,
    error: { ...mapped.error, code: null },
    headers: pickAnthropicHeaders(headers)
  })
}

/** Reads the rest of an error response and maps it. `secrets` (the API key) are removed from the message. */
export const readAnthropicError = async (
  provider: string,
  response: UpstreamResponse,
  secrets: ReadonlyArray<string> = []
): Promise<UpstreamHttpError> => {
  const bytes = await response.bytes()
  return upstreamErrorFromAnthropic(provider, response.status, response.headers, new TextDecoder().decode(bytes), secrets)
}

/**
 * Maps an `error` event of a stream that started with HTTP 200. It becomes
 * an `UpstreamHttpError` marked as a stream event, not an
 * `UpstreamProtocolError`, because Anthropic sends the same error objects in
 * streams as in HTTP error responses (`overloaded_error` is the usual one).
 * Routing and the usage record then see the status and type that show
 * whether a retry may help. A type missing from `statusByErrorType` gets 500.
 * `headers` are the stream response's headers, which carry the upstream
 * request id.
 */
export const streamedUpstreamError = (
  provider: string,
  error: Partial<ErrorObject> | undefined,
  secrets: ReadonlyArray<string> = [],
  headers: Readonly<Record<string, string>> = {}
): UpstreamHttpError => {
  const type = typeof error?.type === "string" ? error.type : "api_error"
  const message =
    typeof error?.message === "string" ? redact(error.message, secrets) : "The upstream reported an error in the middle of the stream."
  return new UpstreamHttpError({
    provider,
    status: statusByErrorType[type] ?? 500,
    error: { message, type, param: null, code: null },
    headers: pickAnthropicHeaders(headers),
    streamEvent: true
  })
}

/** The OpenAI error envelope for an error, as written into a chat stream so that OpenAI clients raise it. */
export const toOpenAIErrorPayload = (error: UpstreamHttpError) => ({
  error: { message: error.error.message, type: error.error.type, param: error.error.param, code: error.error.code }
})
