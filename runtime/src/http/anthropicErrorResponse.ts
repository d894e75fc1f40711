/**
 * Errors on the Anthropic-style route, in Anthropic's error shape:
 * `{"type": "error", "error": {"type", "message"}}`, with the same status
 * codes as the OpenAI routes.
 */
import type { ErrorResponse } from "./errorResponse.js"

// The status of each error type in Anthropic's error reference. Other statuses get `api_error`.
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

export interface AnthropicErrorBody {
  readonly type: "error"
  readonly error: { readonly type: string; readonly message: string }
}

/** Builds the body for a status and message, with the error type Anthropic gives that status. */
export const anthropicErrorBody = (status: number, message: string): AnthropicErrorBody => ({
  type: "error",
  error: { type: anthropicTypeByStatus[status] ?? "api_error", message }
})

export const toAnthropicErrorBody = (response: ErrorResponse): AnthropicErrorBody =>
  anthropicErrorBody(response.status, response.body.error.message)

/** The error as a stream event, for failures after a stream's headers were sent; the Anthropic SDKs raise it. */
export const anthropicErrorEventText = (response: ErrorResponse): string =>
  `event: error\ndata: ${JSON.stringify(toAnthropicErrorBody(response))}\n\n`
