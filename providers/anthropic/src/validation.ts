/**
 * Helpers the request translations share: reading loosely typed JSON and
 * turning a rejected field into an `InvalidRequestError` that names it.
 */
import { InvalidRequestError } from "@fluxen/sdk"
import { Effect } from "effect"

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Builds the error for one rejected request field, named by its JSON path such as `messages[2].content[0]`. */
export const invalidField = (param: string, message: string, code?: string): InvalidRequestError =>
  new InvalidRequestError(code === undefined ? { message, param } : { message, param, code })

/**
 * Runs a translation that throws `InvalidRequestError` for bad input. That
 * error becomes the effect's failure. Anything else thrown is a bug and
 * becomes a defect.
 */
export const runTranslation = <A>(translate: () => A): Effect.Effect<A, InvalidRequestError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(translate())
    } catch (error) {
      if (error instanceof InvalidRequestError) return Effect.fail(error)
      throw error
    }
  })
