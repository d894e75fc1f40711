/** Turning request bytes into a validated canonical request, with the offending field named on failure. */
import { ChatRequest, EmbeddingsRequest, InvalidRequestError } from "@fluxen/sdk"
import { Either, ParseResult, Schema } from "effect"
import { isKnownValidChatRequest } from "./chatRequestCheck.js"
import { isKnownValidEmbeddingsRequest } from "./embeddingsRequestCheck.js"

const decoder = new TextDecoder("utf-8", { fatal: true })

const describePath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`),
    ""
  )

export const parseJsonBody = (bytes: Uint8Array): Either.Either<unknown, InvalidRequestError> => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return Either.left(new InvalidRequestError({ message: "The request body is not valid UTF-8.", code: "invalid_json" }))
  }
  if (text.length === 0) {
    return Either.left(new InvalidRequestError({ message: "The request body is empty; send a JSON object.", code: "invalid_json" }))
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return Either.left(new InvalidRequestError({ message: "The request body must be a JSON object.", code: "invalid_json" }))
    }
    return Either.right(value)
  } catch (error) {
    return Either.left(
      new InvalidRequestError({
        message: `The request body is not valid JSON: ${(error as Error).message}`,
        code: "invalid_json"
      })
    )
  }
}

/**
 * Hand-written checks for the busiest routes, keyed by the schema they mirror.
 * A check returns true only when decoding with that schema would succeed and
 * return a copy deep-equal to the value.
 */
const knownValidChecks: ReadonlyMap<Schema.Schema<any, any>, (value: unknown) => boolean> = new Map<
  Schema.Schema<any, any>,
  (value: unknown) => boolean
>([
  [ChatRequest, isKnownValidChatRequest],
  [EmbeddingsRequest, isKnownValidEmbeddingsRequest]
])

/**
 * Decodes `value`, a result of `JSON.parse`, with `schema`. On failure, the
 * error names the first invalid field by its path, such as `messages[0].role`.
 * When a hand-written check accepts the value, the value itself is returned
 * without a decode or copy, so its keys keep the client's order. Every other
 * value goes through {@link decodeWithSchema}, so a rejected body gets the same
 * error as from a schema-only decode.
 */
export const decodeRequest = <A>(schema: Schema.Schema<A, any>, value: unknown): Either.Either<A, InvalidRequestError> => {
  const isKnownValid = knownValidChecks.get(schema)
  if (isKnownValid !== undefined && isKnownValid(value)) return Either.right(value as A)
  return decodeWithSchema(schema, value)
}

/**
 * Decodes `value` with `schema` alone, without the hand-written checks. On
 * failure, the error names the first invalid field by its path.
 */
export const decodeWithSchema = <A>(schema: Schema.Schema<A, any>, value: unknown): Either.Either<A, InvalidRequestError> => {
  const decoded = Schema.decodeUnknownEither(schema)(value)
  if (Either.isRight(decoded)) return Either.right(decoded.right)
  const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
  const first = issues[0]
  const param = first === undefined ? undefined : describePath(first.path)
  const message =
    first === undefined
      ? "The request body is invalid."
      : `Invalid value for '${param || "body"}': ${first.message}`
  return Either.left(
    new InvalidRequestError(param ? { message, param, code: "invalid_value" } : { message, code: "invalid_value" })
  )
}
