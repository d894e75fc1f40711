/**
 * Loading an encoding synchronously, for a count that cannot wait, with
 * Node's `createRequire`. A subpath of its own (`@fluxen/sdk/tokens/node`),
 * so that code which must also run on Deno does not import `node:module`.
 */
import type { GptEncoding } from "gpt-tokenizer/GptEncoding"
import { createRequire } from "node:module"
import type { EncodingName } from "./Encodings.js"

const loadedNow = new Map<EncodingName, GptEncoding>()
const requireNow = createRequire(import.meta.url)

/**
 * Loads an encoding on the calling thread and returns it, blocking the
 * thread as `loadEncoding` does, for a count that cannot wait. It
 * loads gpt-tokenizer's CommonJS build, a separate copy from the one that
 * `loadEncoding` imports, so a thread should use only one of the two.
 */
export const loadEncodingNow = (name: EncodingName): GptEncoding => {
  let encoding = loadedNow.get(name)
  if (encoding === undefined) {
    const module = requireNow(`gpt-tokenizer/encoding/${name}`) as { readonly default: GptEncoding }
    encoding = module.default
    loadedNow.set(name, encoding)
  }
  return encoding
}

/** Returns whether {@link loadEncodingNow} has loaded this encoding on the calling thread. */
export const isEncodingLoadedNow = (name: EncodingName): boolean => loadedNow.has(name)
