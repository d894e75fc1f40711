/**
 * The model a response names, read from payloads that are already parsed.
 * JSON response bodies name it in a top-level `model`. Stream events
 * name it per API: each chat and completions chunk in `model`, the
 * Responses API's lifecycle events in `response.model`, and Anthropic's
 * `message_start` in `message.model`.
 */
import type { Endpoint } from "@fluxen/sdk"

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

const nonEmptyString = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)

/** Returns the `model` of a parsed JSON response body, if it names one. */
export const modelOfBody = (body: unknown): string | undefined => (isRecord(body) ? nonEmptyString(body.model) : undefined)

/** Returns the model that a parsed stream event of `endpoint` names, if any. */
export const modelOfStreamPayload = (endpoint: Endpoint, json: unknown): string | undefined => {
  if (!isRecord(json)) return undefined
  switch (endpoint) {
    case "responses":
      return isRecord(json.response) ? nonEmptyString(json.response.model) : undefined
    case "messages":
      return json.type === "message_start" && isRecord(json.message) ? nonEmptyString(json.message.model) : undefined
    default:
      return nonEmptyString(json.model)
  }
}
