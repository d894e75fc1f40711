/**
 * The HTTP status of an error that an upstream reported inside a stream it
 * had started with HTTP 200. The status line is gone by then, so the status
 * comes from the error object. Routing decides on it whether a retry may
 * help, and the Anthropic route derives its error type from it.
 */

/**
 * Error types and codes whose status is fixed. Anthropic's error types get
 * the statuses of its error reference (docs.claude.com/en/api/errors), as in
 * `statusByErrorType` of the Anthropic provider. OpenAI's `server_error`,
 * `insufficient_quota` and `rate_limit_exceeded` get the statuses its error
 * codes guide gives them. The codes of the Responses API's `ResponseError`
 * (`openai` package v6.30) that name a problem with the request's prompt or
 * images get 400, because they describe the request's input rather than a
 * server failure.
 */
const STATUS_BY_ERROR_NAME: ReadonlyMap<string, number> = new Map([
  ["invalid_request_error", 400],
  ["authentication_error", 401],
  ["billing_error", 402],
  ["permission_error", 403],
  ["not_found_error", 404],
  ["request_too_large", 413],
  ["rate_limit_error", 429],
  ["api_error", 500],
  ["timeout_error", 504],
  ["overloaded_error", 529],
  ["insufficient_quota", 429],
  ["rate_limit_exceeded", 429],
  ["server_error", 500],
  ["invalid_prompt", 400],
  ["invalid_image", 400],
  ["invalid_image_format", 400],
  ["invalid_base64_image", 400],
  ["invalid_image_url", 400],
  ["image_too_large", 400],
  ["image_too_small", 400],
  ["image_parse_error", 400],
  ["image_content_policy_violation", 400],
  ["invalid_image_mode", 400],
  ["image_file_too_large", 400],
  ["unsupported_image_media_type", 400],
  ["empty_image_file", 400],
  ["failed_to_download_image", 400],
  ["image_file_not_found", 400]
])

const isErrorStatus = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 400 && value <= 599

const statusOfName = (value: unknown): number | undefined => (typeof value === "string" ? STATUS_BY_ERROR_NAME.get(value) : undefined)

/**
 * Returns the status of an in-band error object. A numeric `code` from 400
 * to 599 comes first, because OpenRouter and vLLM put the HTTP status there.
 * Then the `type`, then a string `code`, if the table above names it.
 * Otherwise the status is 500, because the server failed after it had
 * accepted the request.
 */
export const streamErrorStatus = (error: unknown): number => {
  if (typeof error !== "object" || error === null) return 500
  const { code, type } = error as { code?: unknown; type?: unknown }
  if (isErrorStatus(code)) return code
  return statusOfName(type) ?? statusOfName(code) ?? 500
}
