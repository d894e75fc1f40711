/**
 * Failures that the Responses API reports inside a stream it started with
 * HTTP 200. The event shapes follow the types of the `openai` package
 * (v6.30): `ResponseErrorEvent` and `ResponseFailedEvent`.
 */
import { UpstreamHttpError } from "./Errors.js"
import type { SseEvent } from "./Sse.js"
import { streamErrorStatus } from "./StreamErrorStatus.js"
import { makeUpstreamHttpError } from "./UpstreamErrors.js"

type ErrorFields = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is ErrorFields => typeof value === "object" && value !== null

const stringOrUndefined = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/**
 * Returns the error fields of an event that reports a failure, or undefined
 * for any other event. These events do:
 * - `error`, with its fields at the top level (`code`, `message`, `param`).
 *   The top-level `type` is only the event name, so it is left out. A nested
 *   `error` object is read instead when there is one, although the `openai`
 *   types have none.
 * - `response.failed`, whose `response.error` has `code` and `message`. A
 *   null `response.error` gives empty fields.
 * - The chat APIs' `{"error": {...}}` envelope, without a `type`.
 */
const failureFieldsOf = (event: SseEvent, payload: unknown): ErrorFields | undefined => {
  if (!isRecord(payload)) return undefined
  const type = payload.type
  if (event.event === "error" || type === "error") {
    if (isRecord(payload.error)) return payload.error
    return { code: payload.code, message: payload.message, param: payload.param }
  }
  if (event.event === "response.failed" || type === "response.failed") {
    const response = payload.response
    return isRecord(response) && isRecord(response.error) ? response.error : {}
  }
  if (type === undefined && isRecord(payload.error)) return payload.error
  return undefined
}

/**
 * Makes the error of a Responses API event that reports a failure, or
 * returns undefined for any other event. The status comes from the error's
 * `code` or `type` (see `streamErrorStatus`), and `secrets` are removed from
 * the message.
 */
export const responsesStreamError = (
  provider: string,
  headers: Readonly<Record<string, string>>,
  event: SseEvent,
  payload: unknown,
  secrets: ReadonlyArray<string> = []
): UpstreamHttpError | undefined => {
  const fields = failureFieldsOf(event, payload)
  if (fields === undefined) return undefined
  const code = fields.code
  const mapped = makeUpstreamHttpError({
    provider,
    status: streamErrorStatus(fields),
    headers,
    message: stringOrUndefined(fields.message) ?? "The upstream reported that the response failed.",
    type: stringOrUndefined(fields.type),
    param: stringOrUndefined(fields.param) ?? null,
    code: typeof code === "string" || typeof code === "number" ? code : null,
    secrets
  })
  return new UpstreamHttpError({ provider, status: mapped.status, error: mapped.error, headers: mapped.headers, streamEvent: true })
}
