/**
 * The one place where gateway errors become HTTP responses in OpenAI's
 * error shape: `{"error": {"message", "type", "param", "code"}}`.
 */
import type { GatewayError } from "@fluxen/sdk"

export interface ErrorResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: {
    readonly error: {
      readonly message: string
      readonly type: string
      readonly param: string | null
      readonly code: string | number | null
    }
  }
}

const make = (
  status: number,
  type: string,
  message: string,
  code: string | number | null,
  param: string | null = null,
  headers: Record<string, string> = {}
): ErrorResponse => ({ status, headers, body: { error: { message, type, param, code } } })

export const errorResponse = (error: GatewayError): ErrorResponse => {
  switch (error._tag) {
    case "InvalidRequestError":
      return make(400, "invalid_request_error", error.message, error.code ?? null, error.param ?? null)
    case "ModelNotFoundError":
      return make(404, "invalid_request_error", error.message, "model_not_found", "model")
    case "PayloadTooLargeError":
      return make(413, "invalid_request_error", error.message, "request_too_large")
    case "AuthenticationError":
      return make(401, "invalid_request_error", error.message, "invalid_api_key")
    case "PermissionDeniedError":
      return make(403, "permission_error", error.message, "permission_denied")
    case "LimitExceededError": {
      const headers: Record<string, string> = { ...error.headers }
      if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(Math.ceil(error.retryAfterSeconds))
      if (error.kind === "quota") headers["x-should-retry"] = "false"
      return error.kind === "quota"
        ? make(429, "insufficient_quota", error.message, "insufficient_quota", null, headers)
        : make(429, "requests", error.message, "rate_limit_exceeded", null, headers)
    }
    case "UpstreamHttpError":
      return make(error.status, error.error.type ?? "api_error", error.error.message, error.error.code, error.error.param, {
        ...error.headers
      })
    case "UpstreamUnreachableError":
      return make(502, "upstream_error", error.message, "upstream_unreachable")
    case "UpstreamTimeoutError":
      return make(504, "upstream_error", error.message, "upstream_timeout")
    case "UpstreamProtocolError":
      return make(502, "upstream_error", error.message, "upstream_invalid_response")
    case "PluginError":
      return make(500, "server_error", error.message, "plugin_failed")
  }
}

/** The response for a failure Fluxen did not expect; details go to the log, never to the client. */
export const internalErrorResponse = (requestId: string): ErrorResponse =>
  make(500, "server_error", `Fluxen failed to handle the request; its log has the details under request id ${requestId}.`, "internal_error")

/** The error as an SSE event, for failures after a stream's headers were sent; the OpenAI SDKs raise it. */
export const errorEventText = (response: ErrorResponse): string => `data: ${JSON.stringify(response.body)}\n\n`
