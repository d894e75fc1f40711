/** The response headers that carry Fluxen's request id. */

/** The API whose conventions a route follows: OpenAI's, or Anthropic's on `/v1/messages`. */
export type ApiShape = "openai" | "anthropic"

/**
 * Returns `x-fluxen-request-id`, plus `request-id` on Anthropic-shaped routes,
 * because Anthropic's API sends its id there and its SDKs read it from there.
 */
export const requestIdHeaders = (requestId: string, shape: ApiShape): Record<string, string> =>
  shape === "anthropic" ? { "x-fluxen-request-id": requestId, "request-id": requestId } : { "x-fluxen-request-id": requestId }
