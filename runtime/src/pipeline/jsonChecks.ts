/**
 * Predicates for the hand-written request checks. Each one matches one Effect
 * Schema building block exactly, as of Effect 3.22. In that version
 * `Schema.Int` is `Number.isSafeInteger`, `between(a, b)` is
 * `a <= x && x <= b`, and `Schema.optional` also accepts a present key whose
 * value is `undefined`.
 */

const hasOwnProperty = Object.prototype.hasOwnProperty

/**
 * Checks for a plain object, which a `Schema.Struct` with a string index
 * signature copies key by key into an equal object. Arrays and objects with
 * another prototype are rejected. So is an object with an own `__proto__` key,
 * which `JSON.parse` can create. The schema assigns that key to the copy, and
 * the assignment changes the copy's prototype instead of adding a key.
 */
export const isPlainObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" &&
  value !== null &&
  Object.getPrototypeOf(value) === Object.prototype &&
  !hasOwnProperty.call(value, "__proto__")

/** `Schema.optional(Schema.String)` */
export const isOptionalString = (value: unknown): boolean => value === undefined || typeof value === "string"

/** `Schema.optional(Schema.NullOr(Schema.String))` */
export const isOptionalNullableString = (value: unknown): boolean =>
  value === undefined || value === null || typeof value === "string"

/** `Schema.optional(Schema.NullOr(Schema.Boolean))` */
export const isOptionalNullableBoolean = (value: unknown): boolean =>
  value === undefined || value === null || typeof value === "boolean"

/** `Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(minimum, maximum))))` */
export const isOptionalNullableNumberBetween = (value: unknown, minimum: number, maximum: number): boolean =>
  value === undefined || value === null || (typeof value === "number" && value >= minimum && value <= maximum)

/** `Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(minimum, maximum))))` */
export const isOptionalNullableIntBetween = (value: unknown, minimum: number, maximum: number): boolean =>
  value === undefined || value === null || (Number.isSafeInteger(value) && (value as number) >= minimum && (value as number) <= maximum)

/** `Schema.Array(Schema.String)` */
export const isStringArray = (value: unknown): boolean => {
  if (!Array.isArray(value)) return false
  for (const item of value) {
    if (typeof item !== "string") return false
  }
  return true
}

/** `Schema.Array(Schema.Number)` */
export const isNumberArray = (value: unknown): boolean => {
  if (!Array.isArray(value)) return false
  for (const item of value) {
    if (typeof item !== "number") return false
  }
  return true
}
