/** The response headers that carry Fluxen's request id. */

/** The API whose conventions a route follows: OpenAI's, or Anthropic's on `/v1/messages`. */
export type ApiShape = "openai" | "anthropic"

/**
 * Returns the name of the header where the provider's API sends its request id and its SDKs read it:
 * `x-request-id` for OpenAI (`_request_id`, `APIError.requestID`), `request-id` for Anthropic.
 * Fluxen sends its own id there too, and the upstream's id as `x-fluxen-upstream-request-id`.
 */
export const sdkRequestIdHeader = (shape: ApiShape): string => (shape === "anthropic" ? "request-id" : "x-request-id")

/** Returns `x-fluxen-request-id` and the header the API's SDKs read the request id from. */
export const requestIdHeaders = (requestId: string, shape: ApiShape): Record<string, string> => ({
  "x-fluxen-request-id": requestId,
  [sdkRequestIdHeader(shape)]: requestId
})
