/**
 * Virtual API keys: `fx-` and 32 random bytes in base64url. Only the SHA-256
 * of a key is stored; the key itself is shown once, when it is created.
 */
import type { RequestHeaders } from "@fluxen/sdk"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

export const KEY_PREFIX = "fx-"

// Keys this plugin generates have 43 characters after the prefix; static keys
// from the YAML may be longer. Anything else is rejected before hashing.
const PLAUSIBLE_KEY = /^fx-[A-Za-z0-9_-]{32,256}$/

/** Generates a new key. */
export const generateKey = (): string => KEY_PREFIX + randomBytes(32).toString("base64url")

/** Generates a key id, which is not secret: `key_` and 12 random bytes in base64url. */
export const generateKeyId = (): string => "key_" + randomBytes(12).toString("base64url")

/** Returns the SHA-256 of a key as lowercase hex, the form stored in `fluxen_policy_keys.hash`. */
export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

/** Compares two SHA-256 hex digests in constant time. */
export const hashesEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "hex")
  const right = Buffer.from(b, "hex")
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right)
}

/** Tells whether a string can be a Fluxen key at all; others are rejected without a lookup. */
export const isPlausibleKey = (candidate: string): boolean => PLAUSIBLE_KEY.test(candidate)

/**
 * Reads the key a client sent: `Authorization: Bearer <key>` (OpenAI SDKs)
 * or `x-api-key: <key>` (Anthropic SDKs). When both are present, the one
 * that looks like a Fluxen key wins, so a client that sends an unrelated
 * bearer token beside `x-api-key` still authenticates. Returns undefined
 * when neither header carries a value.
 */
export const keyFromHeaders = (headers: RequestHeaders): string | undefined => {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "")?.[1]
  if (bearer !== undefined && isPlausibleKey(bearer)) return bearer
  const apiKey = headers.get("x-api-key")?.trim()
  return apiKey === undefined || apiKey === "" ? bearer : apiKey
}
