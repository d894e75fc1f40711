/**
 * Message ids of Anthropic-shaped responses translated from another
 * provider's chat completion.
 */

const OPENAI_COMPLETION_PREFIX = "chatcmpl-"

/**
 * Returns the Anthropic message id for a completion id. An id that already
 * starts with `msg_` is kept. Any other id gets `msg_` in place of OpenAI's
 * `chatcmpl-` prefix, so the same upstream id always gives the same message
 * id, and the id still matches the upstream's logs. An empty id gets a
 * random one, because there is nothing to derive it from.
 */
export const toMessageId = (completionId: string): string => {
  if (completionId.startsWith("msg_")) return completionId
  const upstreamId = completionId.startsWith(OPENAI_COMPLETION_PREFIX) ? completionId.slice(OPENAI_COMPLETION_PREFIX.length) : completionId
  return `msg_${upstreamId === "" ? crypto.randomUUID().replaceAll("-", "") : upstreamId}`
}
