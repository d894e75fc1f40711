/**
 * Turning Cohere error responses into `UpstreamHttpError`. Cohere's error
 * body is `{"id": "...", "message": "..."}`, and only the message is kept.
 * Any occurrence of the API key in it is replaced, so the key never reaches
 * a client or a log through this error.
 */
import { pickUpstreamHeaders, UpstreamHttpError } from "@fluxen/sdk"
import { Redacted } from "effect"

const errorTypeByStatus: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "insufficient_quota",
  403: "permission_error",
  404: "not_found_error",
  422: "invalid_request_error",
  429: "rate_limit_error",
  499: "request_cancelled"
}

export interface CohereErrorInput {
  readonly provider: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly bodyText: string
  readonly apiKey: Redacted.Redacted<string>
}

const messageOf = (bodyText: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(bodyText)
    const message = (parsed as { message?: unknown } | null)?.message
    return typeof message === "string" && message !== "" ? message : undefined
  } catch {
    return undefined
  }
}

export const cohereHttpError = (input: CohereErrorInput): UpstreamHttpError => {
  const key = Redacted.value(input.apiKey)
  const message = messageOf(input.bodyText) ?? `Cohere returned HTTP ${input.status}.`
  return new UpstreamHttpError({
    provider: input.provider,
    status: input.status,
    error: {
      message: key === "" ? message : message.split(key).join("[redacted]"),
      type: errorTypeByStatus[input.status] ?? "api_error",
      param: null,
      code: null
    },
    headers: pickUpstreamHeaders(input.headers)
  })
}
