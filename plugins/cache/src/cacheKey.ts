/**
 * The cache key: a SHA-256 digest of every request field that can change the
 * response, together with the namespace, the endpoint and where the request
 * is routed.
 *
 * The request body goes in whole, minus the fields listed in
 * {@link IGNORED_REQUEST_FIELDS}. Fields Fluxen does not know are kept,
 * because an unknown field may change the output. A top-level field set to
 * null shares the key of the absent field, because OpenAI and Fluxen's
 * translations read such a null as "not set". So does a message's `name` or
 * `tool_calls` set to null. A field set to its default value still gets a key
 * of its own (`temperature` absent or 1): that costs a miss now and then,
 * never a wrong response.
 */
import * as Crypto from "node:crypto"

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
    const keyed = keyedMember(name, value)
    if (keyed !== undefined) fields[name] = keyed
  }
  return fields
}

/**
 * Returns the object's own keys in ascending UTF-16 code unit order, as
 * `Object.keys(record).sort()` does. Sorted in place by insertion: request
 * objects have a handful of keys, and `sort` would allocate a work copy.
 */
const sortedKeys = (record: object): Array<string> => {
  const keys = Object.keys(record)
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!
    let j = i - 1
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!
      j--
    }
    keys[j + 1] = key
  }
  return keys
}

/** Member names seen before, quoted. Requests repeat the same few names (`role`, `content`, ...). */
const quotedNames = new Map<string, string>()
const MAX_QUOTED_NAMES = 1_000

const quotedName = (name: string): string => {
  let quoted = quotedNames.get(name)
  if (quoted === undefined) {
    quoted = JSON.stringify(name)
    if (quotedNames.size < MAX_QUOTED_NAMES) quotedNames.set(name, quoted)
  }
  return quoted
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

  return canonicalObject(value as Record<string, unknown>, identity)
}

const identity = (_name: string, value: unknown): unknown => value

/** Writes an object as `canonicalJson` does, with each member's value passed through `member` first. */
const canonicalObject = (record: Record<string, unknown>, member: (name: string, value: unknown) => unknown): string => {
  const names = sortedKeys(record)
  let text = "{"
  let first = true
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const value = member(name, record[name])
    if (value === undefined) continue
    if (!first) text += ","
    first = false
    text += quotedName(name) + ":" + canonicalJson(value)
  }
  return text + "}"
}

/**
 * Message members whose null the key leaves out, as if the member were absent.
 * `content: null` is kept, so that tool-call turns keep the keys that earlier
 * versions wrote.
 */
const NULL_AS_ABSENT_MESSAGE_FIELDS: ReadonlyArray<string> = ["name", "tool_calls"]

const hasNullAsAbsent = (message: unknown): boolean => {
  if (typeof message !== "object" || message === null) return false
  const record = message as Record<string, unknown>
  return NULL_AS_ABSENT_MESSAGE_FIELDS.some((name) => record[name] === null)
}

const withoutNullAsAbsent = (message: unknown): unknown => {
  if (!hasNullAsAbsent(message)) return message
  const copy: Record<string, unknown> = { ...(message as Record<string, unknown>) }
  for (const name of NULL_AS_ABSENT_MESSAGE_FIELDS) if (copy[name] === null) delete copy[name]
  return copy
}

/** Copies the messages only when one of them has a member to leave out, which most requests do not. */
const keyedMessages = (messages: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
  messages.some(hasNullAsAbsent) ? messages.map(withoutNullAsAbsent) : messages

const keyedMember = (name: string, value: unknown): unknown => {
  if (value === null || IGNORED_REQUEST_FIELDS.has(name)) return undefined
  if (name === "stop" && typeof value === "string") return [value]
  if (name === "messages" && Array.isArray(value)) return keyedMessages(value)
  return value
}

/**
 * Computes the key of a request: 64 lowercase hex digits, the SHA-256 of
 * `canonicalJson` of the object `{ version, namespace, endpoint, provider,
 * upstreamModel, request: keyedFields(request) }`. The text is written here
 * directly, members in sorted order, without building that object.
 */
export const cacheKeyOf = (input: CacheKeyInput): string =>
  sha256Hex(
    `{"endpoint":${JSON.stringify(input.endpoint)},"namespace":${JSON.stringify(input.namespace)}` +
      `,"provider":${JSON.stringify(input.provider)},"request":${canonicalObject(input.request as Record<string, unknown>, keyedMember)}` +
      `,"upstreamModel":${JSON.stringify(input.upstreamModel)},"version":${KEY_FORMAT_VERSION}}`
  )

// `crypto.hash` (Node 20.12 and later) skips the Hash object that `createHash` builds for one digest.
const oneShotHash = (Crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash

const sha256Hex = (text: string): string =>
  oneShotHash === undefined ? Crypto.createHash("sha256").update(text).digest("hex") : oneShotHash("sha256", text, "hex")
