/**
 * The BPE encodings from `gpt-tokenizer` that Fluxen estimates tokens with:
 * the analyzer plugin on its worker threads and the event loop, and the
 * runtime for `/v1/messages/count_tokens` on providers that cannot count.
 * This module has no Effect services, so a worker thread can import it, and
 * no Node-only import, so the core can on Deno too. The synchronous load is
 * in `EncodingsNow.ts`, for Node.
 *
 * Counts are exact for OpenAI models. For other providers' models they are an
 * estimate: Anthropic and Google use tokenizers of their own, which
 * `gpt-tokenizer` does not implement, so o200k_base is used for them.
 */
import type { GptEncoding } from "gpt-tokenizer/GptEncoding"
import { modelToEncodingMap } from "gpt-tokenizer/mapping"

export type EncodingName = "o200k_base" | "cl100k_base"

// Catches GPT-4 and GPT-3.5 names missing from gpt-tokenizer's map, such as
// new dated variants. The names gpt-4o and gpt-4.1 do not match.
const CL100K_NAME = /^gpt-(3\.5|4)(-|$)/

/**
 * Chooses the encoding for a model: cl100k_base for the GPT-4, GPT-3.5 and
 * embedding models that gpt-tokenizer maps to it, o200k_base for every other
 * name. A `provider/` prefix is ignored.
 */
export const encodingForModel = (model: string): EncodingName => {
  const name = model.slice(model.lastIndexOf("/") + 1)
  const mapped = (modelToEncodingMap as Readonly<Record<string, string | undefined>>)[name]
  return mapped === "cl100k_base" || (mapped === undefined && CL100K_NAME.test(name)) ? "cl100k_base" : "o200k_base"
}

const loaded = new Map<EncodingName, Promise<GptEncoding>>()

/**
 * Loads an encoding once per thread. Loading blocks the thread while the
 * merge ranks are built, which took 155–190 ms for o200k_base and 60–75 ms
 * for cl100k_base in `plugins/analyzer/bench/tokenizer-timing.mjs` (2-core AMD EPYC VM, Node 20).
 */
export const loadEncoding = (name: EncodingName): Promise<GptEncoding> => {
  let encoding = loaded.get(name)
  if (encoding === undefined) {
    encoding =
      name === "o200k_base"
        ? import("gpt-tokenizer/encoding/o200k_base").then((module) => module.default)
        : import("gpt-tokenizer/encoding/cl100k_base").then((module) => module.default)
    loaded.set(name, encoding)
  }
  return encoding
}

// Counts special-token strings such as "<|endoftext|>" inside a prompt as
// ordinary text, because gpt-tokenizer's default throws on them.
const ORDINARY_TEXT = { disallowedSpecial: new Set<string>() }

/** Counts the tokens of all `texts` together. It runs synchronously, so call it inline only for short texts. */
export const countTokens = (encoding: GptEncoding, texts: ReadonlyArray<string>): number => {
  let total = 0
  for (const text of texts) {
    if (text.length > 0) total += encoding.countTokens(text, ORDINARY_TEXT)
  }
  return total
}
