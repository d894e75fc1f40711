/**
 * Thought signatures in OpenAI-shaped messages. Gemini returns an
 * opaque `thoughtSignature` on some parts and needs it back on the same part
 * when the conversation continues (Gemini 3 rejects a function call of the
 * current turn without it). OpenAI's format has no such field, so the
 * signature is carried in `extra_content.google.thought_signature`, the
 * field Google's OpenAI-compatible endpoint uses for it: on each tool call
 * for a `functionCall` part, and on the message (or stream delta) for a text
 * part. A client that sends the assistant message back unchanged returns
 * the signature with it.
 */

export interface ThoughtSignatureField {
  readonly extra_content: { readonly google: { readonly thought_signature: string } }
}

/** The field that carries `signature` on a tool call, message or delta. */
export const thoughtSignatureField = (signature: string): ThoughtSignatureField => ({
  extra_content: { google: { thought_signature: signature } }
})

/** Reads the signature from a tool call or message the client sent back, if it has one. */
export const readThoughtSignature = (holder: unknown): string | undefined => {
  const extra = (holder as { extra_content?: { google?: { thought_signature?: unknown } } } | undefined)?.extra_content
  const signature = extra?.google?.thought_signature
  return typeof signature === "string" && signature !== "" ? signature : undefined
}
