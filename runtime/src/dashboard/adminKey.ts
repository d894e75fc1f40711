/** Checking the admin key that guards the dashboard. */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

/** Why a request did not get through: no key configured, no key sent, or a key that does not match. */
export type AdminKeyRejection = "not_configured" | "missing" | "invalid"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** Reads the key from `Authorization: Bearer <key>`, else from the `key` query parameter. */
const presentedKey = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const authorization = request.headers["authorization"]
  if (authorization !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim())
    if (match !== null) return match[1]
  }
  const fromQuery = new URL(request.url, "http://fluxen.local").searchParams.get("key")
  return fromQuery === null || fromQuery === "" ? undefined : fromQuery
}

/**
 * Makes a check of the admin key. It compares SHA-256 digests with
 * `timingSafeEqual`, so the time taken reveals neither the key's length
 * nor how many leading characters matched.
 */
export const makeAdminKeyCheck = (configured: Redacted.Redacted<string> | undefined) => {
  const expected = configured === undefined ? undefined : digest(Redacted.value(configured))
  return (request: HttpServerRequest.HttpServerRequest): AdminKeyRejection | undefined => {
    if (expected === undefined) return "not_configured"
    const key = presentedKey(request)
    if (key === undefined) return "missing"
    return timingSafeEqual(digest(key), expected) ? undefined : "invalid"
  }
}

/** The 401 message for each rejection, in words an operator can act on. */
export const adminKeyRejectionMessage: Readonly<Record<AdminKeyRejection, string>> = {
  not_configured: "The dashboard is disabled because the configuration file does not set admin.key. Set it to enable the dashboard.",
  missing: "The dashboard needs the admin key: send 'Authorization: Bearer <admin.key>' or add ?key=<admin.key> to the URL.",
  invalid: "The admin key is invalid."
}
