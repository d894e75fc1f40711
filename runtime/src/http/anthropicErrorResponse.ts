/**
 * Errors on the Anthropic-style route, in Anthropic's error shape:
 * `{"type": "error", "error": {"type", "message"}, "request_id"}`, with the
 * same status codes as the OpenAI routes.
 */
import type { ErrorResponse } from "./errorResponse.js"

// The status of each error type in Anthropic's error reference.
const anthropicTypeByStatus: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  504: "timeout_error",
  529: "overloaded_error"
}

/** Returns the Anthropic error type of a status. Anthropic's reference gives other 4xx statuses `invalid_request_error`. */
export const anthropicErrorType = (status: number): string =>
  anthropicTypeByStatus[status] ?? (status >= 400 && status <= 499 ? "invalid_request_error" : "api_error")

export interface AnthropicError {
  readonly type: string
  readonly message: string
}

export interface AnthropicErrorBody {
  readonly type: "error"
  readonly error: AnthropicError
  /** Fluxen's request id, where Anthropic's own error bodies have theirs. */
  readonly request_id: string
}

const toAnthropicError = (response: ErrorResponse): AnthropicError => ({
  type: anthropicErrorType(response.status),
  message: response.body.error.message
})

export const anthropicErrorBody = (status: number, message: string, requestId: string): AnthropicErrorBody => ({
  type: "error",
  error: { type: anthropicErrorType(status), message },
  request_id: requestId
})

export const toAnthropicErrorBody = (response: ErrorResponse, requestId: string): AnthropicErrorBody =>
  anthropicErrorBody(response.status, response.body.error.message, requestId)

/**
 * Formats the error as a stream event, which the Anthropic SDKs raise, for
 * failures after the stream's headers were sent. The event has only the
 * error's type and message, because the stream's `request-id` header already
 * has the id.
 */
export const anthropicErrorEventText = (response: ErrorResponse): string =>
  `event: error\ndata: ${JSON.stringify({ type: "error", error: toAnthropicError(response) })}\n\n`
