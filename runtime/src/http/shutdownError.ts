/**
 * The error of a request that shutdown cut off at its deadline, in the
 * error shape of the request's route: a 503 body for a response that had not
 * started, or a last stream event for one that had.
 */
import { anthropicErrorEventText, anthropicErrorType, toAnthropicErrorBody } from "./anthropicErrorResponse.js"
import { errorEventText, type ErrorResponse } from "./errorResponse.js"
import { requestIdHeaders, type ApiShape } from "./requestIdHeaders.js"

const message = "Fluxen is shutting down and stopped this request before it finished. Send it again."

const shutdownError: ErrorResponse = {
  status: 503,
  headers: {},
  body: { error: { message, type: "server_error", param: null, code: "shutting_down" } }
}

// For a request cut off before the pipeline gave it an id.
const bodies: Record<ApiShape, string> = {
  openai: JSON.stringify(shutdownError.body),
  anthropic: JSON.stringify({ type: "error", error: { type: anthropicErrorType(shutdownError.status), message } })
}

const events: Record<ApiShape, string> = {
  openai: errorEventText(shutdownError),
  anthropic: anthropicErrorEventText(shutdownError)
}

export const shutdownStatus = shutdownError.status

/** Returns the JSON body of the 503 for a request cut off before its response started. */
export const shutdownErrorBody = (shape: ApiShape, requestId: string | undefined): string =>
  requestId === undefined || shape === "openai" ? bodies[shape] : JSON.stringify(toAnthropicErrorBody(shutdownError, requestId))

/** Returns the headers of that 503: its content type and, once the pipeline gave one, the request id. */
export const shutdownErrorHeaders = (shape: ApiShape, requestId: string | undefined): Record<string, string> =>
  requestId === undefined
    ? { "content-type": "application/json" }
    : { "content-type": "application/json", ...requestIdHeaders(requestId, shape) }

/** Returns the SSE error event that ends a stream cut off after its headers were sent. */
export const shutdownErrorEvent = (shape: ApiShape): string => events[shape]
