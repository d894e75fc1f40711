/**
 * A hand-written check of an embeddings body that mirrors the
 * `EmbeddingsRequest` schema in `@fluxen/sdk`, field by field. When the schema
 * changes, change this file too. The tests in this folder compare the two.
 */
import { isNumberArray, isOptionalNullableString, isPlainObject, isStringArray } from "./jsonChecks.js"

/** Checks that every item is an array of numbers. The inner arrays may be empty, as in the schema. */
const isNumberArrayArray = (value: ReadonlyArray<unknown>): boolean => {
  for (const item of value) {
    if (!isNumberArray(item)) return false
  }
  return true
}

/** `input`: a string, or a non-empty array of strings, of numbers or of number arrays. */
const isInput = (value: unknown): boolean => {
  if (typeof value === "string") return true
  if (!Array.isArray(value) || value.length < 1) return false
  const first: unknown = value[0]
  if (typeof first === "string") return isStringArray(value)
  if (typeof first === "number") return isNumberArray(value)
  return isNumberArrayArray(value)
}

/** `dimensions`: an optional positive safe integer, or null. */
const isOptionalDimensions = (value: unknown): boolean =>
  value === undefined || value === null || (Number.isSafeInteger(value) && (value as number) > 0)

/**
 * Checks whether `value`, a result of `JSON.parse`, is an embeddings request
 * that `Schema.decodeUnknownEither(EmbeddingsRequest)` accepts and returns as
 * a deep-equal copy. False means that the schema has to decide, not that the
 * request is invalid.
 */
export const isKnownValidEmbeddingsRequest = (value: unknown): boolean => {
  if (!isPlainObject(value)) return false
  const model = value.model
  const encodingFormat = value.encoding_format
  return (
    typeof model === "string" &&
    model.length >= 1 &&
    isInput(value.input) &&
    (encodingFormat === undefined || encodingFormat === null || encodingFormat === "float" || encodingFormat === "base64") &&
    isOptionalDimensions(value.dimensions) &&
    isOptionalNullableString(value.user)
  )
}
