/**
 * Turning Cohere error responses into `UpstreamHttpError`. Cohere's error
 * body is `{"id": "...", "message": "..."}`, and only the message is kept.
 * The SDK's `makeUpstreamHttpError` replaces the API key and credential
 * headers in it, so they never reach a client or a log through this error.
 */
import { makeUpstreamHttpError, type UpstreamHttpError } from "@fluxen/sdk"

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
  /** Values to remove from the message: the API key and credential headers (see `upstreamSecrets`). */
  readonly secrets: ReadonlyArray<string>
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

export const cohereHttpError = (input: CohereErrorInput): UpstreamHttpError =>
  makeUpstreamHttpError({
    provider: input.provider,
    status: input.status,
    headers: input.headers,
    message: messageOf(input.bodyText) ?? `Cohere returned HTTP ${input.status}.`,
    type: errorTypeByStatus[input.status] ?? "api_error",
    secrets: input.secrets
  })
