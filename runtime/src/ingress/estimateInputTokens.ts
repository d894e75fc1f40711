/**
 * Fluxen's own count of the input tokens of a `/v1/messages/count_tokens`
 * request, for providers that cannot count them. The body is translated to a
 * chat request as `/v1/messages` translates it for those providers, and the
 * chat prompt is counted with gpt-tokenizer as the analyzer plugin counts it.
 *
 * The count runs on the event loop a slice of text at a time, and lets other
 * requests run between slices: a 256 KB prompt took about 25 ms to count.
 *
 * NOTE: the result is an estimate. The encodings are OpenAI's, so it is
 * closest for OpenAI models, and images and documents are not counted. The
 * first count of an encoding loads it on the event loop, which then serves
 * nothing else for 155–190 ms (o200k_base), once per process.
 */
import { fromAnthropicRequest } from "@fluxen/provider-anthropic"
import type { CountTokensRequest, InvalidRequestError } from "@fluxen/sdk"
import { countTokens, encodingForModel, loadEncoding, promptTextOf } from "@fluxen/sdk/tokens"
import { Effect } from "effect"

/** Characters counted between two turns of the event loop, under 2 ms of counting. */
const SLICE_CHARACTERS = 16_384

/**
 * Cuts `text` into slices of at most `SLICE_CHARACTERS`, each ending before a
 * space where one is near. The encodings start a token at a space before a
 * word, so such a cut changes no count. A cut elsewhere may count one token
 * more or less, which an estimate allows.
 */
const slicesOf = (text: string): Array<string> => {
  const slices: Array<string> = []
  let start = 0
  while (text.length - start > SLICE_CHARACTERS) {
    const space = text.lastIndexOf(" ", start + SLICE_CHARACTERS)
    const end = space > start + SLICE_CHARACTERS / 2 ? space : start + SLICE_CHARACTERS
    slices.push(text.slice(start, end))
    start = end
  }
  slices.push(text.slice(start))
  return slices
}

const countInSlices = (encoding: Awaited<ReturnType<typeof loadEncoding>>, texts: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function* () {
    let total = 0
    let sinceYield = 0
    for (const text of texts) {
      for (const slice of slicesOf(text)) {
        if (sinceYield >= SLICE_CHARACTERS) {
          yield* Effect.sleep(0)
          sinceYield = 0
        }
        total += countTokens(encoding, [slice])
        sinceYield += slice.length
      }
    }
    return total
  })

/** Counts the prompt of `request` with the encoding of `upstreamModel`. Fails when the body cannot be translated. */
export const estimateInputTokens = (request: CountTokensRequest, upstreamModel: string): Effect.Effect<number, InvalidRequestError> =>
  Effect.flatMap(fromAnthropicRequest(request), (chat) => {
    // promptTextOf reads every chat body, so it returns a prompt here.
    const prompt = promptTextOf("chat", chat)!
    // The import works on Deno too. On Node it is a copy of its own beside the one the analyzer
    // may load with `loadEncodingNow` on this thread, which only this route's estimates use.
    return Effect.promise(() => loadEncoding(encodingForModel(upstreamModel))).pipe(
      Effect.flatMap((encoding) => countInSlices(encoding, prompt.texts)),
      Effect.map((tokens) => tokens + prompt.fixedTokens)
    )
  })
