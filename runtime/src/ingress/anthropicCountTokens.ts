/**
 * Anthropic's token counting route, `POST /v1/messages/count_tokens`, in
 * front of any provider. An adapter with `countTokens` (Anthropic's) requests
 * the count from its upstream. For the others Fluxen estimates the count. The
 * response header `x-fluxen-token-count` names which of the two the client got.
 */
import type { CallContext, CountTokensRequest, GatewayError, JsonResult, ProviderAdapter } from "@fluxen/sdk"
import { Effect } from "effect"
import { estimateInputTokens } from "./estimateInputTokens.js"

const TOKEN_COUNT_HEADER = "x-fluxen-token-count"

/** Anthropic's response body, `{"input_tokens": N}`, with `source` in the token count header. */
const countResult = (inputTokens: number, source: "upstream" | "estimate", headers: Readonly<Record<string, string>>): JsonResult => ({
  _tag: "Json",
  status: 200,
  headers: { ...headers, [TOKEN_COUNT_HEADER]: source },
  body: { input_tokens: inputTokens }
})

export const invokeCountTokens = (
  adapter: ProviderAdapter,
  request: CountTokensRequest,
  context: CallContext
): Effect.Effect<JsonResult, GatewayError> =>
  adapter.countTokens === undefined
    ? Effect.map(estimateInputTokens(request, context.upstreamModel), (tokens) => countResult(tokens, "estimate", {}))
    : Effect.map(adapter.countTokens(request, context), (count) => countResult(count.inputTokens, "upstream", count.headers))
