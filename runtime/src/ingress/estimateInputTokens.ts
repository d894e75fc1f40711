/**
 * Fluxen's own count of the input tokens of a `/v1/messages/count_tokens`
 * request, for providers that cannot count them. The body is translated to a
 * chat request as `/v1/messages` translates it for those providers, and the
 * chat prompt is counted with gpt-tokenizer as the analyzer plugin counts it.
 *
 * NOTE: the result is an estimate. The encodings are OpenAI's, so it is
 * closest for OpenAI models, and images and documents are not counted. It
 * runs on the event loop: the first count of an encoding loads it there
 * (155–190 ms for o200k_base), and a 256 KB prompt takes about 25 ms more.
 */
import { fromAnthropicRequest } from "@fluxen/provider-anthropic"
import type { CountTokensRequest, InvalidRequestError } from "@fluxen/sdk"
import { countTokens, encodingForModel, loadEncodingNow, promptTextOf } from "@fluxen/sdk/tokens"
import { Effect } from "effect"

/** Counts the prompt of `request` with the encoding of `upstreamModel`. Fails when the body cannot be translated. */
export const estimateInputTokens = (request: CountTokensRequest, upstreamModel: string): Effect.Effect<number, InvalidRequestError> =>
  Effect.map(fromAnthropicRequest(request), (chat) => {
    // promptTextOf reads every chat body, so it returns a prompt here.
    const prompt = promptTextOf("chat", chat)!
    // The synchronous load shares one copy of the encoding with the analyzer's counts on this thread.
    const encoding = loadEncodingNow(encodingForModel(upstreamModel))
    return countTokens(encoding, prompt.texts) + prompt.fixedTokens
  })
