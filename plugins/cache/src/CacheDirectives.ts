/**
 * The request headers by which a client steers the cache:
 *
 * - `cache-control: no-cache`: skip the lookup but store the fresh response.
 *   `cache-control: max-age=0`, and `pragma: no-cache` in a request without
 *   `cache-control`, have the same effect, as HTTP caches treat them.
 *   Other `max-age` values, `max-stale` and `min-fresh` are not read.
 * - `cache-control: no-store`: neither look up nor store.
 * - `x-fluxen-cache-ttl: <seconds>`: keep the response this long (capped by `maxTtl`).
 * - `x-fluxen-cache-namespace: <name>`: look up and store in a namespace of
 *   the caller's own, inside the caller's scope.
 */
import { InvalidRequestError, type RequestHeaders } from "@fluxen/sdk"
import { Either } from "effect"
import { NAMESPACE_PATTERN } from "./CacheConfig.js"
import { MAX_TTL_SECONDS } from "./CacheTtl.js"

export const TTL_HEADER = "x-fluxen-cache-ttl"
export const NAMESPACE_HEADER = "x-fluxen-cache-namespace"

export interface CacheDirectives {
  /** Whether to look for a stored response. */
  readonly lookup: boolean
  /** Whether to store the upstream's response. */
  readonly store: boolean
  /** The TTL the client requested, in milliseconds, before capping by `maxTtl`. */
  readonly ttlMs: number | undefined
  /** The namespace the client requested. */
  readonly namespace: string | undefined
}

/** Returns the lowercase directives of a `Cache-Control` value, each name with its unquoted argument or "". */
const cacheControlDirectives = (value: string | undefined): ReadonlyMap<string, string> => {
  const directives = new Map<string, string>()
  if (value === undefined) return directives
  for (const part of value.split(",")) {
    const separator = part.indexOf("=")
    const name = (separator === -1 ? part : part.slice(0, separator)).trim().toLowerCase()
    const argument = separator === -1 ? "" : part.slice(separator + 1).trim().replace(/^"(.*)"$/, "$1")
    if (name !== "") directives.set(name, argument)
  }
  return directives
}

/** Returns true when the request requests a response that no cache served: `no-cache`, `max-age=0`, or `Pragma: no-cache`. */
const requestsFreshResponse = (headers: RequestHeaders, cacheControl: ReadonlyMap<string, string>): boolean => {
  if (cacheControl.has("no-cache")) return true
  const maxAge = cacheControl.get("max-age")
  if (maxAge !== undefined && /^0+$/.test(maxAge)) return true
  // Pragma is the HTTP/1.0 form of no-cache, so it counts only in a request without Cache-Control.
  const pragma = headers.get("pragma")
  return headers.get("cache-control") === undefined && pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)
}

const invalidHeader = (header: string, expected: string, value: string) =>
  new InvalidRequestError({
    message: `The ${header} header is invalid: expected ${expected}, got ${JSON.stringify(value)}.`,
    param: header,
    code: "invalid_header"
  })

/** Reads the cache directives of a request; fails with a 400 naming the header when a value is invalid. */
export const readCacheDirectives = (headers: RequestHeaders): Either.Either<CacheDirectives, InvalidRequestError> => {
  const cacheControl = cacheControlDirectives(headers.get("cache-control"))
  const noStore = cacheControl.has("no-store")
  const noCache = requestsFreshResponse(headers, cacheControl)

  let ttlMs: number | undefined
  const ttlText = headers.get(TTL_HEADER)
  if (ttlText !== undefined) {
    const seconds = /^\s*\d+\s*$/.test(ttlText) ? Number(ttlText) : Number.NaN
    if (!(seconds >= 1 && seconds <= MAX_TTL_SECONDS)) {
      return Either.left(invalidHeader(TTL_HEADER, `a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`, ttlText))
    }
    ttlMs = seconds * 1_000
  }

  const namespace = headers.get(NAMESPACE_HEADER)?.trim()
  if (namespace !== undefined && !NAMESPACE_PATTERN.test(namespace)) {
    return Either.left(
      invalidHeader(NAMESPACE_HEADER, "1 to 128 characters from letters, digits and . _ : @ / -", namespace)
    )
  }

  return Either.right({ lookup: !noStore && !noCache, store: !noStore, ttlMs, namespace })
}
