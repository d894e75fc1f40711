/**
 * Tool call ids made acceptable to Anthropic.
 *
 * Anthropic rejects a request whose `tool_use` id or `tool_result`
 * `tool_use_id` contains anything but letters, digits, `_` and `-`. Other
 * providers issue ids outside that set, such as `functions.Bash:0` or ids
 * with `|` or `.`. When a fallback or a routing rule moves a conversation
 * from one of them to an Anthropic deployment, its history brings those
 * ids along. Such an id travels as `fluxen_id_` and the base64url of its
 * text, which Anthropic accepts. The same id always gets the same result, so
 * a call and its result still match, on this request and on the next turn's,
 * and the provider that issued the id gets it back as it was.
 */
import { fromBase64Url, toBase64Url } from "./base64Url.js"

const ACCEPTED = /^[A-Za-z0-9_-]+$/
const ENCODED_PREFIX = "fluxen_id_"

/** Returns `id` when Anthropic accepts it, else its encoded form. */
export const wireToolUseId = (id: string): string => (ACCEPTED.test(id) ? id : `${ENCODED_PREFIX}${toBase64Url(id)}`)

/** Returns the id that {@link wireToolUseId} encoded, or `id` itself when it is not such an encoding. */
export const originalToolUseId = (id: string): string => {
  if (!id.startsWith(ENCODED_PREFIX)) return id
  return fromBase64Url(id.slice(ENCODED_PREFIX.length)) ?? id
}
