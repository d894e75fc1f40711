/** The optional admin key that guards the forecaster's routes. */
import { AuthenticationError, type RequestHeaders } from "@fluxen/sdk"
import { Effect, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text).digest()

/**
 * Checks `Authorization: Bearer <adminKey>`, or lets every request through
 * when no key is configured. Digests of equal length are compared in
 * constant time, so the comparison does not reveal the key's length or a
 * matching prefix.
 */
export const makeAdminAuth = (adminKey: Redacted.Redacted<string> | undefined) => {
  const expected = adminKey === undefined ? undefined : digest(Redacted.value(adminKey))

  return (headers: RequestHeaders): Effect.Effect<void, AuthenticationError> => {
    if (expected === undefined) return Effect.void
    const header = headers.get("authorization") ?? ""
    const match = /^Bearer\s+(.+)$/i.exec(header.trim())
    if (match !== null && timingSafeEqual(digest(match[1]!), expected)) return Effect.void
    return Effect.fail(
      new AuthenticationError({
        message: "This route needs the forecaster's admin key: send it as 'Authorization: Bearer <adminKey>'."
      })
    )
  }
}
