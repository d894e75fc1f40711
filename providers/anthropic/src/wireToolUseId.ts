/**
 * Tool call ids made acceptable to Anthropic.
 *
 * Anthropic rejects a request whose `tool_use` id or `tool_result`
 * `tool_use_id` contains anything but letters, digits, `_` and `-`. Other
 * providers issue ids outside that set, such as `functions.Bash:0` or ids
 * with `|` or `.`. When a fallback or a routing rule moves a conversation
 * from one of them to an Anthropic deployment, its history brings those
 * ids along. Such an id is rewritten: each character
 * outside the set becomes `_`, and a hash of the original id follows, so
 * that two ids that differ only in those characters stay apart. The same
 * id always gets the same result, so a call and its result still match,
 * on this request and on the next turn's.
 */

const ACCEPTED = /^[A-Za-z0-9_-]+$/
const REJECTED_CHARACTER = /[^A-Za-z0-9_-]/g

/**
 * FNV-1a over the UTF-16 code units, 32 bits, as 8 hex digits. Not a
 * cryptographic hash: it only keeps the rewritten ids of one conversation
 * apart.
 */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0).toString(16).padStart(8, "0")
}

/** Returns `id` when Anthropic accepts it, else its rewritten form. */
export const wireToolUseId = (id: string): string =>
  ACCEPTED.test(id) ? id : `${id.replace(REJECTED_CHARACTER, "_")}_${fnv1a(id)}`
