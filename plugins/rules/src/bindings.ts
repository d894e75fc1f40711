/**
 * The variables a rule's CEL expression sees. Unknown numbers are -1 and
 * unknown strings empty, including a listed header that the request does
 * not send, so these need no presence checks. A `metadata` key can be
 * absent, and an expression that reads a missing one fails to evaluate.
 */
import type { RequestContext } from "@fluxen/sdk"

/** Headers never exposed to rules, because they carry credentials. */
const hiddenHeaders = new Set(["authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"])

/** The request headers a rule may read: the names the configuration lists, credentials excepted. */
const readHeaders = (context: RequestContext, names: ReadonlyArray<string>): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const name of names) {
    if (hiddenHeaders.has(name)) continue
    headers[name] = context.headers.get(name) ?? ""
  }
  return headers
}

export const ruleBindings = (context: RequestContext, headerNames: ReadonlyArray<string>) => {
  const request = context.request as Record<string, unknown>
  const maxTokens = request.max_tokens ?? request.max_completion_tokens ?? request.max_output_tokens
  return {
    request: {
      model: context.route.requestedModel,
      provider: context.route.provider,
      endpoint: context.endpoint,
      stream: context.stream,
      estimated_tokens: context.record.promptTokensEstimate ?? -1,
      max_tokens: typeof maxTokens === "number" ? maxTokens : -1
    },
    key: { id: context.caller.keyId ?? "", team: context.caller.team ?? "" },
    headers: readHeaders(context, headerNames),
    metadata: { ...context.caller.metadata }
  }
}
