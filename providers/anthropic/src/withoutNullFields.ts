/**
 * Returns a shallow copy of `body` without its top-level members whose value
 * is null. Fluxen reads such a null as "not set", but Anthropic's Messages API
 * types its optional fields (`system`, `tools`, `tool_choice`, `metadata`,
 * `stop_sequences` and the others) without null, as `MessageCreateParams` in
 * @anthropic-ai/sdk 1.17 shows, so the field is left out instead of sent as null.
 */
export const withoutNullFields = <A extends object>(body: A): A => {
  const copy: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(body)) {
    if (value !== null) copy[name] = value
  }
  return copy as A
}
