/**
 * Finding the usage object of an OpenAI chat completion or embeddings body
 * without parsing the whole body. Most requests need only the usage from
 * the body, and parsing a few kilobytes of JSON costs more than the rest of
 * reading the response. The body is parsed when a plugin first reads it.
 *
 * The usage object is the value of the last `"usage"` key in the body. A
 * JSON string cannot contain an unescaped `"`, so the bytes `"usage"`
 * followed by `:` are always an object key. In these two response types
 * only the top-level object has a `usage` key, and it comes after the
 * `choices` or `data` array. The bytes after the usage object must close
 * the top-level object, which confirms both.
 */
const USAGE_KEY = new TextEncoder().encode('"usage"')
const decoder = new TextDecoder()

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const COLON = 0x3a

/** Checks for one of JSON's four whitespace characters, by byte or character code. */
export const isJsonWhitespace = (code: number | undefined): boolean => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09

const skipSpace = (bytes: Uint8Array, index: number): number => {
  while (isJsonWhitespace(bytes[index])) index++
  return index
}

/**
 * Bytes from the end searched for the usage key. The key is followed only by
 * the usage object and a few short fields, so a body whose usage is not in
 * this window (or that has none, like some compatible servers' embeddings)
 * is parsed whole without being scanned first.
 */
const SEARCH_WINDOW = 8192

/** Returns the last index of `pattern` in `bytes` within `SEARCH_WINDOW` bytes of the end, or -1. */
const lastIndexOf = (bytes: Uint8Array, pattern: Uint8Array): number => {
  const first = pattern[0]
  const stop = Math.max(0, bytes.length - SEARCH_WINDOW)
  for (let start = bytes.length - pattern.length; start >= stop; start--) {
    if (bytes[start] !== first) continue
    let at = 1
    while (at < pattern.length && bytes[start + at] === pattern[at]) at++
    if (at === pattern.length) return start
  }
  return -1
}

/**
 * Returns the index of the first `}` or `]` from `start` on that closes a
 * level opened before `start`, skipping strings, or -1 when there is none.
 */
const firstUnmatchedClose = (bytes: Uint8Array, start: number): number => {
  let depth = 0
  let inString = false
  for (let index = start; index < bytes.length; index++) {
    const byte = bytes[index]
    if (inString) {
      if (byte === BACKSLASH) index++
      else if (byte === QUOTE) inString = false
    } else if (byte === QUOTE) {
      inString = true
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++
    } else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth < 0) {
      return index
    }
  }
  return -1
}

/**
 * Returns the parsed usage object of a JSON object body. Returns undefined
 * when the body has no usage object there, is not one JSON object, or the
 * usage value is not an object (null, for instance), and the caller then
 * parses the whole body.
 */
export const scanUsageObject = (bytes: Uint8Array): object | undefined => {
  if (bytes[skipSpace(bytes, 0)] !== OPEN_BRACE) return undefined
  let last = bytes.length - 1
  while (last > 0 && isJsonWhitespace(bytes[last])) last--
  if (bytes[last] !== CLOSE_BRACE) return undefined

  const key = lastIndexOf(bytes, USAGE_KEY)
  if (key === -1) return undefined
  let index = skipSpace(bytes, key + USAGE_KEY.length)
  if (bytes[index] !== COLON) return undefined
  index = skipSpace(bytes, index + 1)
  if (bytes[index] !== OPEN_BRACE) return undefined
  // The usage object ends at the close that matches its `{`, and the bytes after it must
  // close the outermost object exactly at the last byte.
  const close = firstUnmatchedClose(bytes, index + 1)
  if (close === -1 || bytes[close] !== CLOSE_BRACE) return undefined
  const end = close + 1
  if (firstUnmatchedClose(bytes, end) !== last) return undefined
  try {
    const usage: unknown = JSON.parse(decoder.decode(bytes.subarray(index, end)))
    return typeof usage === "object" && usage !== null ? usage : undefined
  } catch {
    return undefined
  }
}
