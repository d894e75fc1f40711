/** The optional admin key that guards the forecaster's routes. */
import type { PluginHttpRequest, PluginHttpResponse } from "@fluxen/sdk"
import { Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text).digest()

/** Reads the key from `Authorization: Bearer <key>`, else from the `key` query parameter, as the dashboard does. */
const presentedKey = (request: PluginHttpRequest): string | undefined => {
  const header = request.headers.get("authorization")
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim())
    if (match !== null) return match[1]
  }
  const fromQuery = request.query.get("key")
  return fromQuery === null || fromQuery === "" ? undefined : fromQuery
}

/**
 * The 401 for a missing or wrong key, with the code `invalid_admin_key`
 * that the gateway's own admin routes (`/dashboard`, `/v1/fluxen/usage`) use.
 */
const rejection: PluginHttpResponse = {
  status: 401,
  headers: { "www-authenticate": "Bearer", "cache-control": "no-store" },
  body: {
    error: {
      message:
        "This route needs the forecaster's admin key: send it as 'Authorization: Bearer <adminKey>' or add ?key=<adminKey> to the URL.",
      type: "invalid_request_error",
      param: null,
      code: "invalid_admin_key"
    }
  }
}

/**
 * Makes a check that returns the 401 response for a request without the
 * admin key, or undefined when the request may pass. Every request passes
 * when no key is configured. Digests of equal length are compared in
 * constant time, so the comparison does not reveal the key's length or a
 * matching prefix.
 */
export const makeAdminAuth = (adminKey: Redacted.Redacted<string> | undefined) => {
  const expected = adminKey === undefined ? undefined : digest(Redacted.value(adminKey))

  return (request: PluginHttpRequest): PluginHttpResponse | undefined => {
    if (expected === undefined) return undefined
    const key = presentedKey(request)
    if (key !== undefined && timingSafeEqual(digest(key), expected)) return undefined
    return rejection
  }
}
