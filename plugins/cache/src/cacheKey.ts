/**
 * The cache key: a SHA-256 digest of every request field that can change the
 * response, together with the namespace, the endpoint and where the request
 * is routed.
 *
 * The request body goes in whole, minus the fields listed in
 * {@link IGNORED_REQUEST_FIELDS}. Fields Fluxen does not know are kept,
 * because an unknown field may change the output. An absent field, a field
 * set to its default value and a field set to null give three different keys
 * (`temperature` absent, 1 or null): that costs a miss now and then, never a
 * wrong response.
 */
import { createHash } from "node:crypto"

/** The endpoints the cache serves. Completions, Responses and Messages are not cached. */
export type CachedEndpoint = "chat" | "embeddings"

export interface CacheKeyInput {
  readonly namespace: string
  readonly endpoint: CachedEndpoint
  /** The configured provider instance the request is routed to. */
  readonly provider: string
  /** The model name sent upstream, so that two aliases of one model share entries. */
  readonly upstreamModel: string
  /** The canonical request body. */
  readonly request: object
}

/** Top-level request fields left out of the key, each because it cannot change the response's content. */
export const IGNORED_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  // Replaced by the route's provider and upstream model.
  "model",
  // A stored response is served as JSON or replayed as a stream, whichever the client requests.
  "stream",
  // Only decides whether usage is streamed, and replays include usage on request.
  "stream_options",
  // End-user identifiers for the upstream's abuse monitoring.
  "user",
  "safety_identifier",
  // Whether and with which tags OpenAI keeps the completion on its side.
  "store",
  "metadata",
  // The upstream's processing tier changes latency and price, not the text.
  "service_tier",
  // A routing hint for the upstream's own prompt cache.
  "prompt_cache_key"
])

/** Bumped when the key's input changes shape, so that older entries are no longer found. */
const KEY_FORMAT_VERSION = 1

/**
 * Returns the request's fields that go into the key. `stop` is normalized so
 * that `"x"` and `["x"]`, which upstreams treat alike, share a key.
 */
export const keyedFields = (request: object): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(request)) {
    if (IGNORED_REQUEST_FIELDS.has(name) || value === undefined) continue
    fields[name] = name === "stop" && typeof value === "string" ? [value] : value
  }
  return fields
}

/**
 * Writes a JSON value with object keys in sorted order, so that two bodies
 * that differ only in key order give the same text. Like `JSON.stringify`, it
 * leaves out object members whose value is undefined and writes undefined
 * array elements as null.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null"
    case "boolean":
      return value ? "true" : "false"
    case "object":
      break
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} is not a JSON value`)
  }

  if (Array.isArray(value)) {
    let text = "["
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ","
      text += canonicalJson(value[i])
    }
    return text + "]"
  }

  const record = value as Record<string, unknown>
  let text = "{"
  let first = true
  for (const name of Object.keys(record).sort()) {
    const member = record[name]
    if (member === undefined) continue
    if (!first) text += ","
    first = false
    text += JSON.stringify(name) + ":" + canonicalJson(member)
  }
  return text + "}"
}

/** Computes the key of a request: 64 lowercase hex digits. */
export const cacheKeyOf = (input: CacheKeyInput): string => {
  const keyed = {
    version: KEY_FORMAT_VERSION,
    namespace: input.namespace,
    endpoint: input.endpoint,
    provider: input.provider,
    upstreamModel: input.upstreamModel,
    request: keyedFields(input.request)
  }
  return createHash("sha256").update(canonicalJson(keyed)).digest("hex")
}
