/**
 * Gemini's error responses, and the responses that are errors for an OpenAI
 * client although Gemini sends them with HTTP 200.
 *
 * Gemini reports errors as a google.rpc status:
 * `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`.
 * Only `message`, `status` and two known `details` entries are read, so
 * nothing else from the body (quota ids, project metadata) reaches the client.
 */
import { InvalidRequestError, pickUpstreamHeaders, upstreamErrorFromBody, UpstreamHttpError } from "@fluxen/sdk"
import { Redacted } from "effect"

const ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

// A protobuf Duration in JSON: seconds with up to nine fractional digits, then "s".
const durationPattern = /^(\d+(?:\.\d{1,9})?)s$/

type JsonRecord = Record<string, unknown>

const asRecord = (value: unknown): JsonRecord | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined

const findDetail = (details: unknown, type: string): JsonRecord | undefined => {
  if (!Array.isArray(details)) return undefined
  for (const detail of details) {
    const record = asRecord(detail)
    if (record?.["@type"] === type) return record
  }
  return undefined
}

/** Returns the whole seconds to wait, rounded up, from a RetryInfo `retryDelay` such as "34.4s". */
export const retryAfterSeconds = (retryDelay: unknown): number | undefined => {
  if (typeof retryDelay !== "string") return undefined
  const match = durationPattern.exec(retryDelay)
  return match === null ? undefined : Math.ceil(Number(match[1]))
}

/**
 * Returns the google.rpc status object of an error body, or undefined when
 * the body has another shape. A body that is an array is read from its first
 * element, as the SDK's generic error reader does.
 */
export const googleRpcStatus = (body: unknown): JsonRecord | undefined => {
  const envelope = asRecord(Array.isArray(body) ? body[0] : body)
  const status = asRecord(envelope?.error)
  return status !== undefined && (typeof status.message === "string" || typeof status.status === "string") ? status : undefined
}

// Google does not echo API keys in its messages, but a message is client-visible, so the key is removed if it ever appears.
const withoutSecret = (message: string, secret: Redacted.Redacted<string> | undefined): string => {
  const value = secret === undefined ? "" : Redacted.value(secret)
  return value === "" ? message : message.split(value).join("[redacted]")
}

export interface UpstreamErrorInput {
  readonly provider: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly bodyText: string
  /** The API key, removed from the message should it appear there. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

/**
 * Builds the `UpstreamHttpError` for a Gemini error response. `type` is the
 * google.rpc status name (e.g. `RESOURCE_EXHAUSTED`) and `code` the
 * ErrorInfo reason (e.g. `API_KEY_INVALID`) when there is one. For a 429
 * without a `retry-after` header, the header is computed from RetryInfo.
 * Bodies of another shape go through the SDK's generic reader.
 */
export const geminiHttpError = (input: UpstreamErrorInput): UpstreamHttpError => {
  let parsed: unknown
  try {
    parsed = JSON.parse(input.bodyText)
  } catch {
    parsed = undefined
  }
  const rpcStatus = googleRpcStatus(parsed)
  if (rpcStatus === undefined) {
    return upstreamErrorFromBody(input.provider, input.status, input.headers, input.bodyText, input.apiKey === undefined ? [] : [Redacted.value(input.apiKey)])
  }

  const headers = pickUpstreamHeaders(input.headers)
  if (input.status === 429 && headers["retry-after"] === undefined) {
    const seconds = retryAfterSeconds(findDetail(rpcStatus.details, RETRY_INFO_TYPE)?.retryDelay)
    if (seconds !== undefined) headers["retry-after"] = String(seconds)
  }

  const message = typeof rpcStatus.message === "string" && rpcStatus.message !== ""
    ? withoutSecret(rpcStatus.message, input.apiKey)
    : `The upstream returned HTTP ${input.status}.`
  const reason = findDetail(rpcStatus.details, ERROR_INFO_TYPE)?.reason
  return new UpstreamHttpError({
    provider: input.provider,
    status: input.status,
    error: {
      message,
      type: typeof rpcStatus.status === "string" ? rpcStatus.status : null,
      param: null,
      code: typeof reason === "string" ? reason : null
    },
    headers
  })
}

/**
 * Builds the error for a google.rpc status that arrived as an event inside a
 * stream that had already started with HTTP 200. Its `code` becomes the
 * status when it is an HTTP error status, otherwise 502.
 */
export const geminiStreamError = (
  provider: string,
  rpcStatus: JsonRecord,
  apiKey?: Redacted.Redacted<string>
): UpstreamHttpError => {
  const code = rpcStatus.code
  const status = typeof code === "number" && code >= 400 && code <= 599 ? code : 502
  const mapped = geminiHttpError({ provider, status, headers: {}, bodyText: JSON.stringify({ error: rpcStatus }), apiKey })
  return new UpstreamHttpError({ provider, status, error: mapped.error, headers: mapped.headers, streamEvent: true })
}

/**
 * Creates the error for a prompt Gemini rejected (`promptFeedback.blockReason`
 * with no candidates). The client's prompt caused it, so it is an invalid
 * request with code `content_filter`, like OpenAI's moderation rejections.
 */
export const promptBlockedError = (blockReason: string): InvalidRequestError => {
  // The reason is an enum name. Anything else is not repeated to the client.
  const shownReason = /^[A-Z_]+$/.test(blockReason) ? blockReason : "unknown"
  return new InvalidRequestError({
    message: `The upstream model blocked the prompt (block reason: ${shownReason}). Change the prompt and try again.`,
    param: "messages",
    code: "content_filter"
  })
}
