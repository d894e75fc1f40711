/**
 * Gemini thought signatures carried in Anthropic `tool_use` ids.
 *
 * Gemini 3 rejects a request whose function call of the current turn lacks
 * the signature it came with, and an OpenAI-shaped tool call carries it in
 * `extra_content.google.thought_signature`. A `tool_use` block has no field
 * for it, and some clients rebuild the block from `id`, `name` and `input`
 * when they send it back. The id is the field every client returns, so a
 * tool call with a signature gets the id
 * `<call id>__thought_signature__<signature>`, with the signature's UTF-8
 * bytes in unpadded base64url. The added part contains only letters,
 * digits, `_` and `-`, like the ids Anthropic issues. A call without a
 * signature keeps its id.
 *
 * NOTE: a signature on a text part (`extra_content` on the message) is not
 * carried. Google's "Thought signatures" guide for the Gemini API makes
 * returning signatures mandatory only for function calls, and recommended
 * for text parts.
 *
 * NOTE: such ids run to several hundred characters (the recorded signatures
 * give about 550 and 1,250), and only the translation to the OpenAI shape
 * splits them. A conversation that moves from a Gemini model to an Anthropic
 * deployment sends them to Anthropic unchanged. Whether Anthropic accepts ids
 * that long was not checked.
 */
import { readThoughtSignature, thoughtSignatureField, type ThoughtSignatureField } from "@fluxen/sdk"
import { fromBase64Url, toBase64Url } from "./base64Url.js"
import { originalToolUseId, wireToolUseId } from "./wireToolUseId.js"

const SEPARATOR = "__thought_signature__"

/**
 * Returns the `tool_use` id of an OpenAI tool call: its id in a form Anthropic accepts (see
 * `wireToolUseId.ts`), followed by its thought signature when it has one.
 */
export const toToolUseId = (call: { readonly id?: string | undefined }): string => {
  // A client that later sends the conversation to an Anthropic deployment sends these ids unchanged.
  const id = wireToolUseId(call.id ?? "")
  const signature = readThoughtSignature(call)
  return signature === undefined ? id : `${id}${SEPARATOR}${toBase64Url(signature)}`
}

/** A `tool_use` id split into the tool call id and the fields that carry its signature. */
export interface ToolCallIdentity {
  readonly id: string
  readonly signature: ThoughtSignatureField | undefined
}

/**
 * Reverses `toToolUseId`. The first separator counts, because the base64url
 * text may contain it while a call id is not expected to. An id without a
 * separator, or with text after it that is not base64url, is kept whole.
 * The call id gets back the form its provider issued (see `wireToolUseId.ts`).
 */
export const splitToolUseId = (toolUseId: string): ToolCallIdentity => {
  const at = toolUseId.indexOf(SEPARATOR)
  if (at < 0) return { id: originalToolUseId(toolUseId), signature: undefined }
  const signature = fromBase64Url(toolUseId.slice(at + SEPARATOR.length))
  if (signature === undefined || signature === "") return { id: originalToolUseId(toolUseId), signature: undefined }
  return { id: originalToolUseId(toolUseId.slice(0, at)), signature: thoughtSignatureField(signature) }
}
