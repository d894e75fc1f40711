/** The response headers that carry Fluxen's request id. */

/** The API whose conventions a route follows: OpenAI's, or Anthropic's on `/v1/messages`. */
export type ApiShape = "openai" | "anthropic"

/**
 * Returns `x-fluxen-request-id` and the headers the APIs' SDKs read the request id from:
 * `x-request-id` for OpenAI's (`_request_id`, `APIError.requestID`), and also `request-id` on
 * Anthropic-shaped routes for Anthropic's. The upstream's own id goes in `x-fluxen-upstream-request-id`.
 */
export const requestIdHeaders = (requestId: string, shape: ApiShape): Record<string, string> =>
  shape === "anthropic"
    ? { "x-fluxen-request-id": requestId, "x-request-id": requestId, "request-id": requestId }
    : { "x-fluxen-request-id": requestId, "x-request-id": requestId }
